// Package spec loads the operator's input: the KubeKey Cluster document and
// the optional ksgen document beside it. It applies KubeKey's defaults and
// validates everything, reporting each problem with its field path and line.
//
// Stage: input. It takes the operator's files and gives checked, typed values;
// it must not import the plan or any later stage.
package spec
