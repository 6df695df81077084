// kubecheck decodes each document of a multi-document YAML stream (stdin) strictly into its
// Kubernetes Go type (the API's own structs, plus the Prometheus Operator's ServiceMonitor and
// PrometheusRule): an unknown or duplicate field, a wrong type or an unknown kind is an error.
// Output: a JSON array of {"kind", "name", "error"}, one per document. Used by tests/deploy.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

type result struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Error string `json:"error,omitempty"`
}

func main() {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{scheme.AddToScheme, monitoringv1.AddToScheme} {
		if err := add(s); err != nil {
			fmt.Fprintln(os.Stderr, "kubecheck:", err)
			os.Exit(2)
		}
	}
	decoder := serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	out := []result{}
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubecheck: reading stdin:", err)
			os.Exit(2)
		}
		if strings.TrimSpace(stripComments(string(doc))) == "" {
			continue
		}
		r := result{}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if gvk != nil {
			r.Kind = gvk.Kind
		}
		if obj != nil {
			if m, merr := meta.Accessor(obj); merr == nil {
				r.Name = m.GetName()
			}
		}
		if err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "kubecheck:", err)
		os.Exit(2)
	}
}

func stripComments(doc string) string {
	lines := []string{}
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}
