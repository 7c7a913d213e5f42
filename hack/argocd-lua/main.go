// Command argocd-lua runs ecs-operator's Argo CD resource customizations (health checks and
// resource actions, config/gitops/argocd-health/argocd-cm.yaml) through Argo CD's own code, on
// the status fixtures in tests/gitops/:
//
//   - argocd-cm is read by Argo CD's settings manager (util/settings GetResourceOverrides, the
//     code the application controller and API server use), from a fake clientset holding it;
//   - health: gitops-engine's health.GetResourceHealth with Argo CD's Lua override
//     (util/lua ResourceHealthOverrides: gopher-lua, base/table/package/safe-os libraries only,
//     1 s timeout), as the application controller runs it;
//   - actions: util/lua GetResourceActionDiscovery + ExecuteResourceActionDiscovery (what the
//     UI lists) and GetResourceAction + ExecuteResourceAction, then the JSON merge patch the
//     API server would send (server/application patchResource: jsonpatch.CreateMergePatch).
//
// Usage: argocd-lua ARGOCD-CM.yaml HEALTH-CASES.tsv ACTION-CASES.tsv FIXTURE-DIR SERVICE-ACTIONS-DIR
// (SERVICE-ACTIONS-DIR holds discovery.lua and NAME.lua: argocd-cm must embed them verbatim).
// Prints one "ok"/"FAIL" line per check, then "N passed, N failed"; exits 1 on any failure.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch"
	"github.com/argoproj/gitops-engine/pkg/health"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	appv1 "github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v2/util/lua"
	"github.com/argoproj/argo-cd/v2/util/settings"
)

type tally struct{ passed, failed int }

func (t *tally) ok(format string, a ...any) {
	t.passed++
	fmt.Printf("ok    "+format+"\n", a...)
}

func (t *tally) fail(format string, a ...any) {
	t.failed++
	fmt.Printf("FAIL  "+format+"\n", a...)
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: argocd-lua ARGOCD-CM.yaml HEALTH-CASES.tsv ACTION-CASES.tsv FIXTURE-DIR SERVICE-ACTIONS-DIR")
		os.Exit(2)
	}
	overrides, err := loadOverrides(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "argocd-lua: %s: %v\n", os.Args[1], err)
		os.Exit(2)
	}
	t := &tally{}
	checkEmbeddedActions(t, overrides, os.Args[5])
	runHealthCases(t, overrides, os.Args[2], os.Args[4])
	runActionCases(t, overrides, os.Args[3], os.Args[4])
	fmt.Printf("%d passed, %d failed\n", t.passed, t.failed)
	if t.failed > 0 {
		os.Exit(1)
	}
}

// loadOverrides reads argocd-cm the way Argo CD does: the ConfigMap in the argocd namespace,
// through the settings manager's informer and its resource.customizations.* key parsing.
func loadOverrides(path string) (map[string]appv1.ResourceOverride, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(raw, &cm); err != nil {
		return nil, err
	}
	if cm.Name != "argocd-cm" {
		return nil, fmt.Errorf("metadata.name is %q, Argo CD reads only argocd-cm", cm.Name)
	}
	const ns = "argocd"
	cm.Namespace = ns
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: "argocd-secret", Namespace: ns,
		Labels: map[string]string{"app.kubernetes.io/part-of": "argocd"},
	}}
	client := fake.NewSimpleClientset(&cm, secret)
	mgr := settings.NewSettingsManager(context.Background(), client, ns)
	return mgr.GetResourceOverrides()
}

func readFixture(dir, name string) (*unstructured.Unstructured, error) {
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return obj, nil
}

// tsvRows returns the non-comment rows of a tab-separated file.
func tsvRows(path string) ([][]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows, nil
}

// runHealthCases: columns fixture, expected Argo CD health ("-": not checked), ...
func runHealthCases(t *tally, overrides map[string]appv1.ResourceOverride, casesPath, dir string) {
	rows, err := tsvRows(casesPath)
	if err != nil {
		t.fail("%s: %v", casesPath, err)
		return
	}
	for _, row := range rows {
		if len(row) < 2 || row[1] == "-" {
			continue
		}
		fixture, want := row[0], row[1]
		obj, err := readFixture(dir, fixture)
		if err != nil {
			t.fail("%s: %v", fixture, err)
			continue
		}
		hs, err := health.GetResourceHealth(obj, lua.ResourceHealthOverrides(overrides))
		switch {
		case err != nil:
			t.fail("%s: argo-cd util/lua error: %v", fixture, err)
		case hs == nil:
			t.fail("%s: argo-cd found no health check for %s", fixture, obj.GroupVersionKind())
		case string(hs.Status) != want:
			t.fail("%s: argo-cd util/lua %s, want %s: %s", fixture, hs.Status, want, hs.Message)
		default:
			t.ok("%s: argo-cd util/lua %s: %s", fixture, hs.Status, hs.Message)
		}
	}
}

// runActionCases: columns fixture, check, expectation.
//
//	discover       comma-separated action names the UI would list, "(disabled)" after a disabled one
//	run NAME       the JSON merge patch Argo CD would send; a string "<now>" matches an RFC 3339
//	               timestamp within a minute of now; "error: TEXT" expects the action to fail with TEXT
func runActionCases(t *tally, overrides map[string]appv1.ResourceOverride, casesPath, dir string) {
	rows, err := tsvRows(casesPath)
	if err != nil {
		t.fail("%s: %v", casesPath, err)
		return
	}
	vm := lua.VM{ResourceOverrides: overrides} // the API server's VM: no open libs
	for _, row := range rows {
		if len(row) != 3 {
			t.fail("%s: row %q: want 3 tab-separated columns", casesPath, strings.Join(row, "|"))
			continue
		}
		fixture, check, want := row[0], row[1], row[2]
		obj, err := readFixture(dir, fixture)
		if err != nil {
			t.fail("%s: %v", fixture, err)
			continue
		}
		switch {
		case check == "discover":
			got, err := discover(vm, obj)
			if err != nil {
				t.fail("%s: argo-cd action discovery: %v", fixture, err)
			} else if got != want {
				t.fail("%s: argo-cd action discovery %s, want %s", fixture, got, want)
			} else {
				t.ok("%s: argo-cd action discovery %s", fixture, got)
			}
		case strings.HasPrefix(check, "run "):
			name := strings.TrimPrefix(check, "run ")
			patch, err := runAction(vm, obj, name)
			if wantErr, isErr := strings.CutPrefix(want, "error: "); isErr {
				if err != nil && strings.Contains(err.Error(), wantErr) {
					t.ok("%s: argo-cd action %s refused: %v", fixture, name, err)
				} else {
					t.fail("%s: argo-cd action %s: want error %q, got patch %s err %v", fixture, name, wantErr, patch, err)
				}
				continue
			}
			if err != nil {
				t.fail("%s: argo-cd action %s: %v", fixture, name, err)
			} else if msg := matchPatch(patch, want); msg != "" {
				t.fail("%s: argo-cd action %s patch %s: %s", fixture, name, patch, msg)
			} else {
				t.ok("%s: argo-cd action %s patch %s", fixture, name, patch)
			}
		default:
			t.fail("%s: unknown check %q", fixture, check)
		}
	}
}

func discover(vm lua.VM, obj *unstructured.Unstructured) (string, error) {
	scripts, err := vm.GetResourceActionDiscovery(obj)
	if err != nil {
		return "", err
	}
	if len(scripts) == 0 {
		return "", fmt.Errorf("no action discovery script for %s", obj.GroupVersionKind())
	}
	actions, err := vm.ExecuteResourceActionDiscovery(obj, scripts)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(actions))
	for _, a := range actions {
		n := a.Name
		if a.Disabled {
			n += "(disabled)"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ","), nil
}

// runAction runs an action as the API server does and returns the merge patch it would apply.
func runAction(vm lua.VM, obj *unstructured.Unstructured, name string) (string, error) {
	action, err := vm.GetResourceAction(obj, name)
	if err != nil {
		return "", err
	}
	liveBytes, err := json.Marshal(obj)
	if err != nil {
		return "", err
	}
	impacted, err := vm.ExecuteResourceAction(obj.DeepCopy(), action.ActionLua)
	if err != nil {
		return "", err
	}
	if len(impacted) != 1 || impacted[0].K8SOperation != lua.PatchOperation {
		return "", fmt.Errorf("want one patched resource, got %d impacted resources", len(impacted))
	}
	newBytes, err := json.Marshal(impacted[0].UnstructuredObj)
	if err != nil {
		return "", err
	}
	patch, err := jsonpatch.CreateMergePatch(liveBytes, newBytes)
	return string(patch), err
}

// matchPatch compares a merge patch with the expected JSON; "" when they match.
func matchPatch(got, want string) string {
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return "patch is not JSON: " + err.Error()
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return "expectation is not JSON: " + err.Error()
	}
	return matchValue("", g, w)
}

func matchValue(path string, g, w any) string {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object", path)
		}
		for k := range gv {
			if _, ok := wv[k]; !ok {
				return fmt.Sprintf("%s/%s: unexpected change", path, k)
			}
		}
		for k, v := range wv {
			if msg := matchValue(path+"/"+k, gv[k], v); msg != "" {
				return msg
			}
		}
		return ""
	case string:
		if wv == "<now>" {
			return matchNow(path, g)
		}
	}
	gj, _ := json.Marshal(g)
	wj, _ := json.Marshal(w)
	if string(gj) != string(wj) {
		return fmt.Sprintf("%s: %s, want %s", path, gj, wj)
	}
	return ""
}

func matchNow(path string, g any) string {
	s, ok := g.(string)
	if !ok {
		return fmt.Sprintf("%s: want a timestamp string", path)
	}
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Sprintf("%s: %q is not RFC 3339: %v", path, s, err)
	}
	if d := time.Since(ts); d < -time.Minute || d > time.Minute {
		return fmt.Sprintf("%s: %s is not now", path, s)
	}
	return ""
}

// checkEmbeddedActions: argocd-cm's actions for ecs-operator.io/Service, as Argo CD parses them
// (ResourceOverride.GetActions), are the .lua files of dir, verbatim.
func checkEmbeddedActions(t *tally, overrides map[string]appv1.ResourceOverride, dir string) {
	const key = "ecs-operator.io/Service"
	override, ok := overrides[key]
	if !ok || override.Actions == "" {
		t.fail("argocd-cm has no resource.customizations.actions for %s", key)
		return
	}
	actions, err := override.GetActions()
	if err != nil {
		t.fail("argocd-cm actions for %s: %v", key, err)
		return
	}
	want := map[string]string{"discovery.lua": actions.ActionDiscoveryLua}
	for _, d := range actions.Definitions {
		want[d.Name+".lua"] = d.ActionLua
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.lua"))
	if err != nil || len(files) == 0 {
		t.fail("no .lua files in %s", dir)
		return
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		name := filepath.Base(f)
		embedded, ok := want[name]
		switch {
		case err != nil:
			t.fail("%s: %v", f, err)
		case !ok:
			t.fail("argocd-cm actions for %s: no definition for %s", key, f)
		case embedded != string(raw):
			t.fail("argocd-cm actions for %s: %s differs from %s", key, strings.TrimSuffix(name, ".lua"), f)
		default:
			t.ok("argocd-cm actions for %s: %s == %s", key, strings.TrimSuffix(name, ".lua"), f)
		}
		delete(want, name)
	}
	for name := range want {
		t.fail("argocd-cm actions for %s: %s has no file in %s", key, name, dir)
	}
}
