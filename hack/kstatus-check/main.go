// kstatus-check prints what kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute) — the
// status library behind Flux's health checks, `kubectl wait`-style tooling and cli-utils
// appliers — says about Kubernetes objects given as JSON (or YAML) files.
//
//	kstatus-check FILE...        one line per file: FILE<TAB>STATUS<TAB>MESSAGE
//
// STATUS is one of InProgress, Failed, Current, Terminating, NotFound, Unknown. A file holding a
// List (`kubectl get -o json`) gives one line per item, FILE#INDEX. Exit 2 on unreadable input.
package main

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kstatus-check FILE...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
		}
	}
	if failed {
		os.Exit(2)
	}
}

func check(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// YAML is converted to JSON first; JSON passes through unchanged.
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	// The unstructured JSON scheme decodes integers as int64, as client-go does for objects
	// read from the API server (kstatus reads metadata.generation as int64).
	obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, js)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	switch o := obj.(type) {
	case *unstructured.UnstructuredList:
		for i := range o.Items {
			if err := report(fmt.Sprintf("%s#%d", path, i), &o.Items[i]); err != nil {
				return err
			}
		}
		return nil
	case *unstructured.Unstructured:
		return report(path, o)
	default:
		return fmt.Errorf("decode: unexpected %T", obj)
	}
}

func report(name string, u *unstructured.Unstructured) error {
	res, err := status.Compute(u)
	if err != nil {
		return fmt.Errorf("compute: %w", err)
	}
	msg := strings.ReplaceAll(res.Message, "\t", " ")
	msg = strings.ReplaceAll(msg, "\n", " ")
	fmt.Printf("%s\t%s\t%s\n", name, res.Status, msg)
	return nil
}
