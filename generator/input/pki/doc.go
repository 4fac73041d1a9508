// Package pki makes and reads the cluster secrets bundle: the three CAs kubeadm
// expects, the service-account key pair, the bootstrap token and the optional
// encryption-at-rest key. The bundle is made once and reused for every render, so
// the same spec and bundle always give the same payloads.
//
// Stage: input. It takes the operator's files and gives checked, typed values;
// it must not import the plan or any later stage.
package pki
