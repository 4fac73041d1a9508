package joinwindow_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"
)

// The test binary is also the fake kubectl: the keeper's PATH leads to a
// symlink named kubectl, and TestMain sends such runs here. The fake keeps
// kube-system's Secrets as JSON objects in the file $FAKE_STORE, answers
// exactly the verbs and flags the keeper uses (anything else fails the run),
// evaluates -o jsonpath with client-go's JSONPath as kubectl does, and logs
// every command line to $FAKE_LOG. Like the API server, it refuses a
// bootstrap-token Secret whose name, ID or secret is malformed.

type object = map[string]any

type store map[string]object

func loadStore() (store, error) {
	s := store{}
	raw, err := os.ReadFile(os.Getenv("FAKE_STORE"))
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	return s, json.Unmarshal(raw, &s)
}

func (s store) save() error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(os.Getenv("FAKE_STORE"), raw, 0o600)
}

// fakeNow is the fake API server's clock ($FAKE_NOW, Unix seconds).
func fakeNow() time.Time {
	n, _ := strconv.ParseInt(os.Getenv("FAKE_NOW"), 10, 64)
	return time.Unix(n, 0).UTC()
}

type kubectlArgs struct {
	positional []string
	flags      map[string]string
}

// valueFlags take a value; the others are booleans.
var valueFlags = map[string]bool{"--kubeconfig": true, "--namespace": true, "--output": true, "--filename": true,
	"--from-file": true, "--type": true, "--patch": true, "--selector": true, "--field-selector": true}

var boolFlags = map[string]bool{"--ignore-not-found": true, "--server-side": true, "--force-conflicts": true}

func parseArgs(args []string) (kubectlArgs, error) {
	a := kubectlArgs{flags: map[string]string{}}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, hasValue := strings.Cut(arg, "=")
		switch {
		case !strings.HasPrefix(arg, "--"):
			a.positional = append(a.positional, arg)
		case valueFlags[name] && hasValue:
			a.flags[name] = value
		case valueFlags[name] && i+1 < len(args):
			a.flags[name] = args[i+1]
			i++
		case boolFlags[arg]:
			a.flags[arg] = "true"
		default:
			return a, fmt.Errorf("unsupported flag %q", arg)
		}
	}
	return a, nil
}

func fakeKubectl(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if f, err := os.OpenFile(os.Getenv("FAKE_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintln(f, strings.Join(args, " "))
		f.Close()
	}
	if err := kubectl(args, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "fake kubectl:", err)
		return 1
	}
	return 0
}

func kubectl(args []string, stdin io.Reader, stdout io.Writer) error {
	a, err := parseArgs(args)
	if err != nil {
		return err
	}
	if _, err := os.Stat(a.flags["--kubeconfig"]); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if a.flags["--namespace"] != "kube-system" {
		return fmt.Errorf("namespace %q, want kube-system", a.flags["--namespace"])
	}
	s, err := loadStore()
	if err != nil {
		return err
	}
	verb := strings.Join(a.positional, " ")
	switch p := a.positional; {
	case len(p) == 3 && p[0] == "get" && p[1] == "secret":
		obj, ok := s[p[2]]
		if !ok {
			if a.flags["--ignore-not-found"] != "" {
				return nil
			}
			return fmt.Errorf(`Error from server (NotFound): secrets %q not found`, p[2])
		}
		out, ok := strings.CutPrefix(a.flags["--output"], "jsonpath=")
		if !ok {
			return fmt.Errorf("output %q: want jsonpath=", a.flags["--output"])
		}
		j := jsonpath.New("out")
		j.AllowMissingKeys(true) // kubectl's --allow-missing-template-keys default
		if err := j.Parse(out); err != nil {
			return err
		}
		return j.Execute(stdout, obj)
	case len(p) == 4 && p[0] == "create" && p[1] == "secret" && p[2] == "generic":
		key, file, ok := strings.Cut(a.flags["--from-file"], "=")
		if !ok {
			return fmt.Errorf("--from-file %q: want key=path", a.flags["--from-file"])
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		obj := object{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
			"metadata": object{"name": p[3], "namespace": "kube-system"},
			"data":     object{key: base64.StdEncoding.EncodeToString(raw)}}
		if err := s.create(obj); err != nil {
			return err
		}
	case len(p) == 1 && p[0] == "create" && a.flags["--filename"] == "-":
		obj, err := readObject(stdin)
		if err != nil {
			return err
		}
		if err := s.create(obj); err != nil {
			return err
		}
	case len(p) == 1 && p[0] == "apply" && a.flags["--filename"] == "-" && a.flags["--server-side"] != "" && a.flags["--force-conflicts"] != "":
		obj, err := readObject(stdin)
		if err != nil {
			return err
		}
		name := obj["metadata"].(object)["name"].(string)
		if old, ok := s[name]; ok {
			patch, _ := json.Marshal(object{"data": obj["data"]})
			if err := s.patch(name, old, patch); err != nil {
				return err
			}
		} else if err := s.create(obj); err != nil {
			return err
		}
	case len(p) == 4 && p[0] == "annotate" && p[1] == "secret":
		obj, ok := s[p[2]]
		if !ok {
			return fmt.Errorf("secrets %q not found", p[2])
		}
		k, v, _ := strings.Cut(p[3], "=")
		meta := obj["metadata"].(object)
		ann, _ := meta["annotations"].(object)
		if ann == nil {
			ann = object{}
		}
		if _, ok := ann[k]; ok {
			return fmt.Errorf("--overwrite is false but found the following declared annotation(s): '%s' already has a value", k)
		}
		ann[k] = v
		meta["annotations"] = ann
	case len(p) == 3 && p[0] == "patch" && p[1] == "secret" && a.flags["--type"] == "merge":
		obj, ok := s[p[2]]
		if !ok {
			return fmt.Errorf("secrets %q not found", p[2])
		}
		if err := s.patch(p[2], obj, []byte(a.flags["--patch"])); err != nil {
			return err
		}
	case len(p) == 2 && p[0] == "delete" && p[1] == "secret" && a.flags["--ignore-not-found"] != "":
		ls, err := labels.Parse(a.flags["--selector"])
		if err != nil {
			return err
		}
		fs, err := fields.ParseSelector(a.flags["--field-selector"])
		if err != nil {
			return err
		}
		for name, obj := range s {
			meta := obj["metadata"].(object)
			l := labels.Set{}
			if m, ok := meta["labels"].(object); ok {
				for k, v := range m {
					l[k] = v.(string)
				}
			}
			if ls.Matches(l) && fs.Matches(fields.Set{"metadata.name": name, "type": fmt.Sprint(obj["type"])}) {
				delete(s, name)
				fmt.Fprintf(stdout, "secret %q deleted\n", name)
			}
		}
	default:
		return fmt.Errorf("unsupported command %q", verb)
	}
	return s.save()
}

func readObject(r io.Reader) (object, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var obj object
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// create stores a new object, as the API server would: stringData folded
// into data, a creation time, bootstrap tokens validated.
func (s store) create(obj object) error {
	meta := obj["metadata"].(object)
	name := meta["name"].(string)
	if _, ok := s[name]; ok {
		return fmt.Errorf(`Error from server (AlreadyExists): secrets %q already exists`, name)
	}
	meta["creationTimestamp"] = fakeNow().Format(time.RFC3339)
	if err := admit(obj); err != nil {
		return err
	}
	s[name] = obj
	return nil
}

func (s store) patch(name string, obj object, patch []byte) error {
	doc, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	out, err := jsonpatch.MergePatch(doc, patch)
	if err != nil {
		return err
	}
	var patched object
	if err := json.Unmarshal(out, &patched); err != nil {
		return err
	}
	if err := admit(patched); err != nil {
		return err
	}
	s[name] = patched
	return nil
}

var (
	tokenID     = regexp.MustCompile(`^[a-z0-9]{6}$`)
	tokenSecret = regexp.MustCompile(`^[a-z0-9]{16}$`)
)

// admit folds stringData into data and checks a bootstrap token's fields.
func admit(obj object) error {
	data, _ := obj["data"].(object)
	if data == nil {
		data = object{}
	}
	if sd, ok := obj["stringData"].(object); ok {
		for k, v := range sd {
			data[k] = base64.StdEncoding.EncodeToString([]byte(v.(string)))
		}
		delete(obj, "stringData")
	}
	obj["data"] = data
	if obj["type"] != "bootstrap.kubernetes.io/token" {
		return nil
	}
	get := func(k string) string {
		v, _ := data[k].(string)
		b, _ := base64.StdEncoding.DecodeString(v)
		return string(b)
	}
	name := obj["metadata"].(object)["name"].(string)
	if !tokenID.MatchString(get("token-id")) || name != "bootstrap-token-"+get("token-id") || !tokenSecret.MatchString(get("token-secret")) {
		return fmt.Errorf("secret %q is not a valid bootstrap token", name)
	}
	if e := get("expiration"); e != "" {
		if _, err := time.Parse(time.RFC3339, e); err != nil {
			return fmt.Errorf("secret %q: expiration %q: %w", name, e, err)
		}
	}
	return nil
}
