package kustomize

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Rules for the opt-in workloads (components/operator-console, components/fx-rates-etl),
// which decode() collects into m.Workloads. Where a requirement is the validator's too
// (pod security, resources, zone spread), the validator's own check runs on the
// workload's pod template, so both are held to literally the same rule.

const (
	consoleName = "operator-console"
	etlName     = "fx-rates-etl"
)

// envReaders: where each binary reads its environment (file, function). The manifests may
// set only names that appear as string literals in those functions.
var envReaders = map[string][2]string{
	consoleName: {"../svc/cmd/operator-console/main.go", "run"},
	etlName:     {"../svc/internal/fxrates/job.go", "ConfigFromEnv"},
}

// sdkEnv: read not by our code but by the AWS SDK's default chain (fxrates.Clients, and
// the console's svc/internal/dbauth with DATABASE_AUTH=iam, call
// awsconfig.LoadDefaultConfig); the IRSA webhook injects the credential ones itself.
var sdkEnv = map[string][]string{etlName: {"AWS_REGION"}, consoleName: {"AWS_REGION"}}

// requiredEnv: what the binary refuses to start without.
var requiredEnv = map[string][]string{
	consoleName: {"VALIDATOR_URL", "DATABASE_URL", "OIDC_ISSUER", "ALB_ARNS", "CONSOLE_VIEWER_GROUP",
		"CONSOLE_TESTER_GROUP", "CONSOLE_ORIGIN"},
	etlName: {"S3_BUCKET"},
}

var workloadRules = []rule{
	{"workloads-present", checkWorkloadsPresent},
	{"workload-pod-security", checkWorkloadPodSecurity},
	{"workload-resources", checkWorkloadResources},
	{"workload-images", checkWorkloadImages},
	{"workload-serviceaccounts", checkWorkloadServiceAccounts},
	{"workload-env", checkWorkloadEnv},
	{"console-replicas-hpa-pdb", checkConsoleScaling},
	{"console-probes", checkConsoleProbes},
	{"console-spread", checkConsoleSpread},
	{"console-externalsecret", checkConsoleSecret},
	{"console-ingress-same-alb", checkConsoleIngress},
	{"console-networkpolicies", checkConsoleNetworkPolicies},
	{"etl-cronjob", checkETLCronJob},
	{"etl-networkpolicies", checkETLNetworkPolicies},
}

func consoleDeployment(w *manifests) *appsv1.Deployment {
	for i := range w.Deployments {
		if w.Deployments[i].Name == consoleName {
			return &w.Deployments[i]
		}
	}
	return nil
}

func etlCronJob(w *manifests) *batchv1.CronJob {
	for i := range w.CronJobs {
		if w.CronJobs[i].Name == etlName {
			return &w.CronJobs[i]
		}
	}
	return nil
}

// pods: each workload's pod template, by workload name.
func pods(w *manifests) map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	if d := consoleDeployment(w); d != nil {
		out[consoleName] = &d.Spec.Template
	}
	if cj := etlCronJob(w); cj != nil {
		out[etlName] = &cj.Spec.JobTemplate.Spec.Template
	}
	return out
}

func workloadContainer(name string, t *corev1.PodTemplateSpec) *corev1.Container {
	for i := range t.Spec.Containers {
		if t.Spec.Containers[i].Name == name {
			return &t.Spec.Containers[i]
		}
	}
	return nil
}

// asDeployment wraps a pod template so the validator's Deployment checks can run on it.
func asDeployment(t *corev1.PodTemplateSpec) *manifests {
	return &manifests{Deployments: []appsv1.Deployment{{Spec: appsv1.DeploymentSpec{Template: *t}}}}
}

// envReadBy returns the environment variable names a binary reads: the string literals
// shaped like one inside its reading function (os.Getenv / getenv arguments and the
// names it loops over).
func envReadBy(file, fn string) (map[string]bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		return nil, err
	}
	name := regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$|^[A-Z]{4,}$`)
	out := map[string]bool{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn {
			continue
		}
		ast.Inspect(fd, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && name.MatchString(s) {
					out[s] = true
				}
			}
			return true
		})
		return out, nil
	}
	return nil, fmt.Errorf("%s has no func %s", file, fn)
}

func checkWorkloadEnv(_ env, m *manifests) (out []string) {
	for name, t := range pods(m.Workloads) {
		c := workloadContainer(name, t)
		if c == nil {
			continue // reported by workload-images
		}
		r := envReaders[name]
		read, err := envReadBy(r[0], r[1])
		if err != nil {
			return []string{err.Error()}
		}
		set := map[string]bool{}
		for _, ev := range c.Env {
			set[ev.Name] = true
			if !read[ev.Name] && !slices.Contains(sdkEnv[name], ev.Name) {
				errorf(&out, "%s: env %s is not read by the binary (%s %s reads %v)", name, ev.Name, r[0], r[1], keys(read))
			}
		}
		if len(c.EnvFrom) > 0 {
			errorf(&out, "%s: envFrom would set names nobody checked; list each variable", name)
		}
		for _, req := range requiredEnv[name] {
			if !set[req] {
				errorf(&out, "%s: required env %s is not set", name, req)
			}
		}
	}
	// VALIDATOR_URL must be the validator's Service, on its console-test port.
	if d := consoleDeployment(m.Workloads); d != nil {
		if c := workloadContainer(consoleName, &d.Spec.Template); c != nil {
			for _, ev := range c.Env {
				if ev.Name != "VALIDATOR_URL" {
					continue
				}
				u, err := url.Parse(ev.Value)
				if err != nil || u.Hostname() != appName+"."+namespace+".svc" || u.Port() != strconv.Itoa(consoleTestPort) {
					errorf(&out, "VALIDATOR_URL=%q must be http://%s.%s.svc:%d", ev.Value, appName, namespace, consoleTestPort)
				}
			}
		}
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestWorkloads(t *testing.T) {
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) {
			m := render(t, filepath.Join("overlays", e.name))
			for _, r := range workloadRules {
				t.Run(r.name, func(t *testing.T) {
					for _, v := range r.check(e, m) {
						t.Error(v)
					}
				})
			}
		})
	}
}

func TestEnvReadersFindTheNames(t *testing.T) {
	for name, want := range map[string][]string{
		consoleName: {"VALIDATOR_URL", "DATABASE_URL", "HTTP_ADDR"},
		etlName:     {"S3_BUCKET", "S3_PREFIX", "FX_API_KEY_SECRET_ID", "FX_MAX_AGE", "FX_MAX_ATTEMPTS", "S3_FORCE_PATH_STYLE"},
	} {
		r := envReaders[name]
		got, err := envReadBy(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !got[w] {
				t.Errorf("%s: %s not found among %v", name, w, keys(got))
			}
		}
	}
}

// The workloads' objects really are split off: the validator's rules (exactly one
// Deployment, one Service, ...) still see only the validator.
func TestWorkloadsDoNotLeakIntoValidatorRules(t *testing.T) {
	m := render(t, filepath.Join("overlays", "prod"))
	if len(m.Deployments) != 1 || m.Deployments[0].Name != appName {
		t.Errorf("validator Deployments: %d", len(m.Deployments))
	}
	if bytes.Contains(m.raw, []byte("kind: CronJob")) && len(m.CronJobs) != 0 {
		t.Errorf("CronJob decoded as the validator's")
	}
}
