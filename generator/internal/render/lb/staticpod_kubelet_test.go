package lb_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	podutil "k8s.io/kubernetes/pkg/api/pod"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/apis/core/helper"
	_ "k8s.io/kubernetes/pkg/apis/core/install" // registers core/v1 in legacyscheme, as the kubelet does
	"k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/util/hash"
)

// kubeletValidation says whether kubeletValidate runs the kubelet's code.
const kubeletValidation = true

// noKubeletValidation is never shown: kubelet validation is compiled in.
const noKubeletValidation = ""

// kubeletValidate is the kubelet's file-source path for a static pod
// (pkg/kubelet/config/common.go tryDecodeSinglePod, v1.36): decode with
// defaulting through legacyscheme, the kubelet's applyDefaults,
// ValidatePodCreate with the options derived from the pod, and no
// references to API objects (static pods may not have them).
func kubeletValidate(data []byte, node, source string) error {
	jsonData, err := utilyaml.ToJSON(data)
	if err != nil {
		return err
	}
	obj, err := runtime.Decode(legacyscheme.Codecs.UniversalDecoder(), jsonData)
	if err != nil {
		return fmt.Errorf("kubelet decode: %w", err)
	}
	pod, ok := obj.(*api.Pod)
	if !ok {
		return fmt.Errorf("decoded a %T, not a Pod", obj)
	}
	if pod.Name == "" {
		return errors.New("the pod has no name")
	}
	applyDefaults(pod, source, types.NodeName(node))
	opts := podutil.GetValidationOptionsFromPodSpecAndMeta(&pod.Spec, nil, &pod.ObjectMeta, nil)
	if errs := validation.ValidatePodCreate(pod, opts); len(errs) > 0 {
		return fmt.Errorf("ValidatePodCreate: %w", errs.ToAggregate())
	}
	if _, resource, err := podutil.HasAPIObjectReference(pod); err != nil {
		return err
	} else if resource != "" {
		return fmt.Errorf("static pods may not reference %s", resource)
	}
	return nil
}

// configHashAnnotation is the kubelet's ConfigHashAnnotationKey
// (pkg/kubelet/types), spelled out: that package pulls in the CRI client.
const configHashAnnotation = "kubernetes.io/config.hash"

// applyDefaults is the kubelet's applyDefaults for a pod from a file
// (pkg/kubelet/config/common.go, v1.36), without logging.
func applyDefaults(pod *api.Pod, source string, nodeName types.NodeName) {
	if len(pod.UID) == 0 {
		hasher := fnv.New128a()
		hash.DeepHashObject(hasher, pod)
		fmt.Fprintf(hasher, "host:%s", nodeName)
		fmt.Fprintf(hasher, "file:%s", source)
		pod.UID = types.UID(hex.EncodeToString(hasher.Sum(nil)[0:]))
	}
	pod.Name = fmt.Sprintf("%s-%s", pod.Name, strings.ToLower(string(nodeName)))
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	pod.Spec.NodeName = string(nodeName)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[configHashAnnotation] = string(pod.UID)
	helper.AddOrUpdateTolerationInPod(pod, &api.Toleration{Operator: "Exists", Effect: api.TaintEffectNoExecute})
	pod.Status.Phase = api.PodPending
}
