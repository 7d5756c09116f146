package kustomize

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
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

// sdkEnv: read not by our code but by the AWS SDK's default chain (fxrates.Clients calls
// awsconfig.LoadDefaultConfig); the IRSA webhook injects the credential ones itself.
var sdkEnv = map[string][]string{etlName: {"AWS_REGION"}}

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

func checkWorkloadsPresent(_ env, m *manifests) (out []string) {
	w := m.Workloads
	if consoleDeployment(w) == nil {
		errorf(&out, "no Deployment %s", consoleName)
	}
	if etlCronJob(w) == nil {
		errorf(&out, "no CronJob %s", etlName)
	}
	if len(w.Deployments) != 1 || len(w.CronJobs) != 1 {
		errorf(&out, "want exactly the console Deployment and the ETL CronJob, got %d Deployments, %d CronJobs", len(w.Deployments), len(w.CronJobs))
	}
	return out
}

func checkWorkloadPodSecurity(e env, m *manifests) (out []string) {
	for name, t := range pods(m.Workloads) {
		for _, v := range checkPodSecurity(e, asDeployment(t)) {
			errorf(&out, "%s: %s", name, v)
		}
	}
	return out
}

func checkWorkloadResources(e env, m *manifests) (out []string) {
	for name, t := range pods(m.Workloads) {
		for _, v := range checkResources(e, asDeployment(t)) {
			errorf(&out, "%s: %s", name, v)
		}
	}
	return out
}

var ecrDigest = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/([a-z0-9-]+)@sha256:[0-9a-f]{64}$`)

func checkWorkloadImages(_ env, m *manifests) (out []string) {
	for name, t := range pods(m.Workloads) {
		c := workloadContainer(name, t)
		if c == nil {
			errorf(&out, "%s: no container named %s", name, name)
			continue
		}
		// Its own ECR repository (infra's ecr module), by digest: what runs is what was scanned.
		if sm := ecrDigest.FindStringSubmatch(c.Image); sm == nil || sm[1] != name {
			errorf(&out, "%s: image %q must be <account>.dkr.ecr.<region>.amazonaws.com/%s@sha256:<digest>", name, c.Image, name)
		}
	}
	return out
}

var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/(.+)$`)

func checkWorkloadServiceAccounts(_ env, m *manifests) (out []string) {
	for name, t := range pods(m.Workloads) {
		if t.Spec.ServiceAccountName != name {
			errorf(&out, "%s: runs as ServiceAccount %q; each workload has its own (its own IRSA role)", name, t.Spec.ServiceAccountName)
		}
		var sa *corev1.ServiceAccount
		for i := range m.Workloads.ServiceAccounts {
			if m.Workloads.ServiceAccounts[i].Name == name {
				sa = &m.Workloads.ServiceAccounts[i]
			}
		}
		if sa == nil {
			errorf(&out, "%s: no ServiceAccount %s", name, name)
			continue
		}
		if r := roleARN.FindStringSubmatch(sa.Annotations["eks.amazonaws.com/role-arn"]); r == nil || !strings.HasSuffix(r[1], "-"+name) {
			errorf(&out, "ServiceAccount %s: eks.amazonaws.com/role-arn must be its own IRSA role (…-%s), is %q", name, name, sa.Annotations["eks.amazonaws.com/role-arn"])
		}
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			errorf(&out, "ServiceAccount %s must set automountServiceAccountToken: false", name)
		}
	}
	return out
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
	// VALIDATOR_URL must be the validator's Service, on its HTTP port.
	if d := consoleDeployment(m.Workloads); d != nil {
		if c := workloadContainer(consoleName, &d.Spec.Template); c != nil {
			for _, ev := range c.Env {
				if ev.Name != "VALIDATOR_URL" {
					continue
				}
				u, err := url.Parse(ev.Value)
				if err != nil || u.Hostname() != appName+"."+namespace+".svc" || u.Port() != strconv.Itoa(httpPort) {
					errorf(&out, "VALIDATOR_URL=%q must be http://%s.%s.svc:%d", ev.Value, appName, namespace, httpPort)
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

func checkConsoleScaling(_ env, m *manifests) (out []string) {
	w := m.Workloads
	d := consoleDeployment(w)
	if d == nil {
		return []string{"no console Deployment"}
	}
	if d.Spec.Replicas != nil {
		errorf(&out, "console Deployment sets replicas; the HPA owns the count")
	}
	if s := d.Spec.Strategy.RollingUpdate; s == nil || s.MaxUnavailable == nil || s.MaxUnavailable.String() != "0" {
		errorf(&out, "console rollingUpdate.maxUnavailable must be 0")
	}
	hpaOK := false
	for _, h := range w.HPAs {
		if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == consoleName {
			hpaOK = h.Spec.MinReplicas != nil && *h.Spec.MinReplicas >= 2 && h.Spec.MaxReplicas >= *h.Spec.MinReplicas
		}
	}
	if !hpaOK {
		errorf(&out, "console needs an HPA with minReplicas >= 2 (a node or zone loss must not take it away)")
	}
	pdbOK := false
	for _, p := range w.PDBs {
		if p.Spec.Selector != nil && selects(p.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			pdbOK = p.Spec.MaxUnavailable != nil && p.Spec.MaxUnavailable.String() == "1" && p.Spec.MinAvailable == nil
		}
	}
	if !pdbOK {
		errorf(&out, "console needs a PodDisruptionBudget with maxUnavailable 1 selecting its pods")
	}
	return out
}

// consoleRoutes: the paths the console serves, read from its source, so a probe can only
// name an endpoint that exists.
func consoleRoutes() (string, error) {
	b, err := os.ReadFile("../svc/internal/console/console.go")
	return string(b), err
}

func checkConsoleProbes(_ env, m *manifests) (out []string) {
	d := consoleDeployment(m.Workloads)
	if d == nil {
		return []string{"no console Deployment"}
	}
	c := workloadContainer(consoleName, &d.Spec.Template)
	if c == nil {
		return []string{"no console container"}
	}
	src, err := consoleRoutes()
	if err != nil {
		return []string{err.Error()}
	}
	var port int32 = -1
	for _, p := range c.Ports {
		if p.Name == "http" {
			port = p.ContainerPort
		}
	}
	for _, w := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/livez"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if w.probe == nil || w.probe.HTTPGet == nil {
			errorf(&out, "console %s must be an HTTP GET of %s", w.kind, w.path)
			continue
		}
		if w.probe.HTTPGet.Path != w.path || !strings.Contains(src, `"GET `+w.path+`"`) {
			errorf(&out, "console %s path %q: want %s, which svc/internal/console serves", w.kind, w.probe.HTTPGet.Path, w.path)
		}
		if resolvePort(c, w.probe.HTTPGet.Port) != port {
			errorf(&out, "console %s must probe the http port", w.kind)
		}
	}
	return out
}

func checkConsoleSpread(e env, m *manifests) (out []string) {
	d := consoleDeployment(m.Workloads)
	if d == nil {
		return []string{"no console Deployment"}
	}
	// Zone spread (maxSkew 1, DoNotSchedule) and node anti-affinity, as the validator; a
	// required anti-affinity and minDomains are the validator's HA component's business.
	return checkSpread(env{name: e.name}, &manifests{Deployments: []appsv1.Deployment{*d}})
}

func checkConsoleSecret(_ env, m *manifests) (out []string) {
	w := m.Workloads
	d := consoleDeployment(w)
	if d == nil {
		return []string{"no console Deployment"}
	}
	var es, store map[string]any
	for _, o := range w.Custom["ExternalSecret"] {
		if str(path(o, "metadata", "name")) == consoleName {
			es = o
		}
	}
	for _, o := range w.Custom["SecretStore"] {
		if str(path(o, "metadata", "name")) == consoleName {
			store = o
		}
	}
	if es == nil || store == nil {
		return []string{"console needs its own ExternalSecret and SecretStore"}
	}
	if str(path(store, "spec", "provider", "aws", "auth", "jwt", "serviceAccountRef", "name")) != consoleName {
		errorf(&out, "console SecretStore must authenticate as the console's own ServiceAccount")
	}
	if str(path(es, "spec", "secretStoreRef", "name")) != consoleName {
		errorf(&out, "console ExternalSecret must use the console's SecretStore")
	}
	target := str(path(es, "spec", "target", "name"))
	produced := map[string]bool{}
	data, _ := path(es, "spec", "data").([]any)
	for _, item := range data {
		im, _ := item.(map[string]any)
		produced[str(im["secretKey"])] = true
		if !strings.Contains(str(path(im, "remoteRef", "key")), "operator_console") {
			errorf(&out, "console ExternalSecret reads %q; only the operator_console database URL", str(path(im, "remoteRef", "key")))
		}
	}
	if !produced["DATABASE_URL"] || len(produced) != 1 {
		errorf(&out, "console ExternalSecret must produce exactly DATABASE_URL, produces %v", keys(produced))
	}
	c := workloadContainer(consoleName, &d.Spec.Template)
	for _, ev := range c.Env {
		if ev.ValueFrom == nil || ev.ValueFrom.SecretKeyRef == nil {
			if ev.Name == "DATABASE_URL" {
				errorf(&out, "console DATABASE_URL must come from its ExternalSecret, not a literal")
			}
			continue
		}
		if ref := ev.ValueFrom.SecretKeyRef; ref.Name != target || !produced[ref.Key] {
			errorf(&out, "console env %s refers to %s/%s, which its ExternalSecret does not produce", ev.Name, ref.Name, ref.Key)
		}
	}
	return out
}

// albWide: annotations that configure the whole ALB; every Ingress of a group must agree.
var albWide = []string{
	"alb.ingress.kubernetes.io/scheme", "alb.ingress.kubernetes.io/listen-ports",
	"alb.ingress.kubernetes.io/ssl-redirect", "alb.ingress.kubernetes.io/certificate-arn",
	"alb.ingress.kubernetes.io/ssl-policy", "alb.ingress.kubernetes.io/wafv2-acl-arn",
	"alb.ingress.kubernetes.io/security-groups", "alb.ingress.kubernetes.io/load-balancer-attributes",
	"alb.ingress.kubernetes.io/target-type",
}

func checkConsoleIngress(_ env, m *manifests) (out []string) {
	var ci *networkingv1.Ingress
	for i := range m.Workloads.Ingresses {
		if m.Workloads.Ingresses[i].Name == consoleName {
			ci = &m.Workloads.Ingresses[i]
		}
	}
	if ci == nil || len(m.Ingresses) != 1 {
		return []string{"want the console's Ingress and the validator's"}
	}
	vi := m.Ingresses[0]
	g := "alb.ingress.kubernetes.io/group.name"
	if ci.Annotations[g] == "" || ci.Annotations[g] != vi.Annotations[g] {
		errorf(&out, "console and validator Ingresses must share one ALB: same %s, have %q and %q", g, ci.Annotations[g], vi.Annotations[g])
	}
	for _, a := range albWide {
		if ci.Annotations[a] != vi.Annotations[a] {
			errorf(&out, "%s differs between the console (%q) and the validator (%q): one ALB, one WAF, one TLS policy", a, ci.Annotations[a], vi.Annotations[a])
		}
	}
	if ci.Spec.IngressClassName == nil || *ci.Spec.IngressClassName != "alb" {
		errorf(&out, "console Ingress must use IngressClass alb")
	}
	// Its own host: the API's host has no authentication rule (console_auth_test.go).
	if len(ci.Spec.Rules) != 1 || len(vi.Spec.Rules) != 1 || ci.Spec.Rules[0].Host == vi.Spec.Rules[0].Host {
		errorf(&out, "console Ingress must serve one host of its own, not the API's")
	}
	for _, r := range ci.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if !strings.HasPrefix(p.Path, "/console/") {
				errorf(&out, "console Ingress exposes %q; only /console/ (probes stay internal)", p.Path)
			}
			if p.Backend.Service == nil || p.Backend.Service.Name != consoleName || p.Backend.Service.Port.Name != "http" {
				errorf(&out, "console Ingress path %s must go to Service %s port http", p.Path, consoleName)
			}
		}
	}
	return out
}

type flows struct {
	ingress map[string]bool // "alb"
	egress  map[string]bool // "dns", "validator", "database", "https"
}

// workloadFlows classifies every rule of the policies that select a workload's pods and
// reports anything that is not one of the allowed flows.
func workloadFlows(m *manifests, podLabels map[string]string, httpPortNum int32, c *corev1.Container) (flows, []string) {
	var out []string
	f := flows{ingress: map[string]bool{}, egress: map[string]bool{}}
	all := append(append([]networkingv1.NetworkPolicy{}, m.NetworkPolicies...), m.Workloads.NetworkPolicies...)
	for _, np := range all {
		s := np.Spec
		if len(s.PodSelector.MatchLabels) == 0 && len(s.PodSelector.MatchExpressions) == 0 {
			continue // base's default-deny (the validator's rules check it only denies)
		}
		if !selects(s.PodSelector.MatchLabels, podLabels) {
			continue
		}
		for _, r := range s.Ingress {
			for _, p := range r.From {
				if p.IPBlock == nil || !privateCIDR(p.IPBlock.CIDR) || len(p.IPBlock.Except) > 0 {
					errorf(&out, "%s: ingress peer must be the ALB's subnets (a private CIDR)", np.Name)
					continue
				}
				f.ingress["alb"] = true
			}
			if len(r.From) == 0 || len(r.Ports) == 0 {
				errorf(&out, "%s: an ingress rule without peers or ports allows everything", np.Name)
			}
			for _, p := range r.Ports {
				if p.Port == nil || c == nil || resolvePort(c, *p.Port) != httpPortNum {
					errorf(&out, "%s: ingress only to the http port %d", np.Name, httpPortNum)
				}
			}
		}
		for _, r := range s.Egress {
			if len(r.To) == 0 || len(r.Ports) == 0 {
				errorf(&out, "%s: an egress rule without peers or ports allows everything", np.Name)
				continue
			}
			var ports []int32
			for _, p := range r.Ports {
				if p.Port == nil || p.Port.Type != intstr.Int || p.EndPort != nil {
					errorf(&out, "%s: egress ports must be single numbers", np.Name)
					continue
				}
				ports = append(ports, p.Port.IntVal)
			}
			for _, p := range r.To {
				var kind string
				var allowed []int32
				switch {
				case p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "kube-system" &&
					p.PodSelector.MatchLabels["k8s-app"] == "kube-dns":
					kind, allowed = "dns", []int32{53}
				case p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == namespace &&
					p.PodSelector.MatchLabels["app.kubernetes.io/name"] == appName:
					kind, allowed = "validator", []int32{httpPort}
				case p.IPBlock != nil && p.IPBlock.CIDR == "0.0.0.0/0":
					kind, allowed = "https", []int32{443}
				case p.IPBlock != nil && privateCIDR(p.IPBlock.CIDR):
					kind, allowed = "database", []int32{5432}
				default:
					errorf(&out, "%s: egress peer %+v is not DNS, the validator, the database or HTTPS", np.Name, p)
					continue
				}
				for _, port := range ports {
					if !slices.Contains(allowed, port) {
						errorf(&out, "%s: %s may only be reached on %v, not %d", np.Name, kind, allowed, port)
					}
				}
				f.egress[kind] = true
			}
		}
	}
	return f, out
}

func checkConsoleNetworkPolicies(_ env, m *manifests) (out []string) {
	d := consoleDeployment(m.Workloads)
	if d == nil {
		return []string{"no console Deployment"}
	}
	c := workloadContainer(consoleName, &d.Spec.Template)
	var port int32 = -1
	if c != nil {
		for _, p := range c.Ports {
			if p.Name == "http" {
				port = p.ContainerPort
			}
		}
	}
	f, out := workloadFlows(m, d.Spec.Template.Labels, port, c)
	if !f.ingress["alb"] {
		errorf(&out, "no NetworkPolicy lets the ALB reach the console")
	}
	for _, want := range []string{"dns", "validator", "database"} {
		if !f.egress[want] {
			errorf(&out, "no NetworkPolicy allows the console's egress to %s", want)
		}
	}
	// HTTPS out only for the ALB's key service, which verifies operators' identities.
	if !f.egress["https"] {
		errorf(&out, "no NetworkPolicy lets the console fetch the ALB's public keys (HTTPS)")
	}
	// The validator must admit the console (rules_test.go's internalClients names it).
	admitted := false
	for _, np := range m.NetworkPolicies {
		for _, r := range np.Spec.Ingress {
			for _, p := range r.From {
				if p.PodSelector != nil && p.NamespaceSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == namespace &&
					selects(p.PodSelector.MatchLabels, d.Spec.Template.Labels) {
					admitted = true
				}
			}
		}
	}
	if !admitted {
		errorf(&out, "no validator NetworkPolicy admits the console (its test transactions would time out)")
	}
	return out
}

func checkETLNetworkPolicies(_ env, m *manifests) (out []string) {
	cj := etlCronJob(m.Workloads)
	if cj == nil {
		return []string{"no ETL CronJob"}
	}
	f, out := workloadFlows(m, cj.Spec.JobTemplate.Spec.Template.Labels, -1, nil)
	if len(f.ingress) > 0 {
		errorf(&out, "nothing may connect to the ETL job")
	}
	for k := range f.egress {
		if k != "dns" && k != "https" {
			errorf(&out, "the ETL job may reach only DNS and HTTPS, not %s", k)
		}
	}
	if !f.egress["dns"] || !f.egress["https"] {
		errorf(&out, "the ETL job needs egress to DNS and to HTTPS (443)")
	}
	return out
}

func checkETLCronJob(_ env, m *manifests) (out []string) {
	cj := etlCronJob(m.Workloads)
	if cj == nil {
		return []string{"no ETL CronJob"}
	}
	s := cj.Spec
	if s.TimeZone == nil || (*s.TimeZone != "Etc/UTC" && *s.TimeZone != "UTC") {
		errorf(&out, "CronJob timeZone must be stated as UTC")
	}
	// After the ECB's ~16:00 CET publication: 15:00 UTC in winter, so 15:30 UTC at the
	// earliest, and the same day (before midnight UTC).
	f := strings.Fields(s.Schedule)
	if len(f) != 5 {
		errorf(&out, "schedule %q is not a 5-field cron expression", s.Schedule)
	} else {
		min, err1 := strconv.Atoi(f[0])
		hour, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || hour*60+min < 15*60+30 || hour > 23 {
			errorf(&out, "schedule %q must run once a day between 15:30 and 23:59 UTC (after the ECB publishes)", s.Schedule)
		}
	}
	if s.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		errorf(&out, "concurrencyPolicy must be Forbid, is %q", s.ConcurrencyPolicy)
	}
	if s.StartingDeadlineSeconds == nil || *s.StartingDeadlineSeconds <= 0 {
		errorf(&out, "startingDeadlineSeconds must be set")
	}
	j := s.JobTemplate.Spec
	if j.ActiveDeadlineSeconds == nil || *j.ActiveDeadlineSeconds <= 0 || *j.ActiveDeadlineSeconds > 3600 {
		errorf(&out, "activeDeadlineSeconds must be set (at most an hour)")
	}
	if j.BackoffLimit == nil || *j.BackoffLimit > 3 {
		errorf(&out, "backoffLimit must be set and small (<= 3)")
	}
	if j.TTLSecondsAfterFinished == nil {
		errorf(&out, "ttlSecondsAfterFinished must be set")
	}
	if j.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		errorf(&out, "restartPolicy must be Never (a retry is a new pod, counted by backoffLimit)")
	}
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

// TestWorkloadRulesCatchMutations: each case breaks one requirement of the rendered prod
// manifests and expects the named workload rule to object.
func TestWorkloadRulesCatchMutations(t *testing.T) {
	prod := envs[len(envs)-1]
	base, err := build(filepath.Join("overlays", prod.name))
	if err != nil {
		t.Fatal(err)
	}
	con := func(m *manifests) *corev1.Container {
		return workloadContainer(consoleName, &consoleDeployment(m.Workloads).Spec.Template)
	}
	etl := func(m *manifests) *corev1.Container {
		return workloadContainer(etlName, &etlCronJob(m.Workloads).Spec.JobTemplate.Spec.Template)
	}
	policy := func(m *manifests, name string) *networkingv1.NetworkPolicy {
		for i := range m.Workloads.NetworkPolicies {
			if m.Workloads.NetworkPolicies[i].Name == name {
				return &m.Workloads.NetworkPolicies[i]
			}
		}
		panic("no policy " + name)
	}
	consoleIngress := func(m *manifests) *networkingv1.Ingress {
		for i := range m.Workloads.Ingresses {
			if m.Workloads.Ingresses[i].Name == consoleName {
				return &m.Workloads.Ingresses[i]
			}
		}
		panic("no console ingress")
	}
	cases := []struct {
		rule   string
		mutate func(m *manifests)
	}{
		{"workloads-present", func(m *manifests) { m.Workloads.CronJobs = nil }},
		{"workload-pod-security", func(m *manifests) { con(m).SecurityContext.ReadOnlyRootFilesystem = ptr.To(false) }},
		{"workload-pod-security", func(m *manifests) { etl(m).SecurityContext.AllowPrivilegeEscalation = nil }},
		{"workload-pod-security", func(m *manifests) { etl(m).SecurityContext.Capabilities.Drop = nil }},
		{"workload-pod-security", func(m *manifests) {
			consoleDeployment(m.Workloads).Spec.Template.Spec.SecurityContext.SeccompProfile = nil
			con(m).SecurityContext.SeccompProfile = nil
		}},
		{"workload-pod-security", func(m *manifests) { con(m).SecurityContext.RunAsNonRoot = ptr.To(false) }},
		{"workload-resources", func(m *manifests) { etl(m).Resources.Limits = nil }},
		{"workload-images", func(m *manifests) { etl(m).Image = "your-registry/fx-rates-etl:v1.0.0" }},
		{"workload-images", func(m *manifests) {
			con(m).Image = strings.Replace(con(m).Image, "/operator-console@", "/transaction-validator@", 1)
		}},
		{"workload-serviceaccounts", func(m *manifests) {
			etlCronJob(m.Workloads).Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName = appName
		}},
		{"workload-serviceaccounts", func(m *manifests) {
			for i := range m.Workloads.ServiceAccounts {
				m.Workloads.ServiceAccounts[i].Annotations["eks.amazonaws.com/role-arn"] = "arn:aws:iam::000000000000:role/tv-prod-transaction-validator"
			}
		}},
		{"workload-env", func(m *manifests) { etl(m).Env = append(etl(m).Env, corev1.EnvVar{Name: "S3_BUKET", Value: "x"}) }},
		{"workload-env", func(m *manifests) { con(m).Env = append(con(m).Env, corev1.EnvVar{Name: "LOG_LEVEL", Value: "debug"}) }},
		{"workload-env", func(m *manifests) {
			con(m).Env = slices.DeleteFunc(con(m).Env, func(e corev1.EnvVar) bool { return e.Name == "VALIDATOR_URL" })
		}},
		{"workload-env", func(m *manifests) {
			for i, ev := range con(m).Env {
				if ev.Name == "VALIDATOR_URL" {
					con(m).Env[i].Value = "http://transaction-validator.transaction-validator.svc:9090"
				}
			}
		}},
		{"console-replicas-hpa-pdb", func(m *manifests) { m.Workloads.HPAs[0].Spec.MinReplicas = ptr.To[int32](1) }},
		{"console-replicas-hpa-pdb", func(m *manifests) { consoleDeployment(m.Workloads).Spec.Replicas = ptr.To[int32](2) }},
		{"console-replicas-hpa-pdb", func(m *manifests) { m.Workloads.PDBs = nil }},
		{"console-probes", func(m *manifests) { con(m).ReadinessProbe = nil }},
		{"console-probes", func(m *manifests) { con(m).LivenessProbe.HTTPGet.Path = "/healthz" }},
		{"console-spread", func(m *manifests) { consoleDeployment(m.Workloads).Spec.Template.Spec.TopologySpreadConstraints = nil }},
		{"console-externalsecret", func(m *manifests) {
			m.Workloads.Custom["SecretStore"][0]["spec"].(map[string]any)["provider"].(map[string]any)["aws"].(map[string]any)["auth"] =
				map[string]any{"jwt": map[string]any{"serviceAccountRef": map[string]any{"name": appName}}}
		}},
		{"console-externalsecret", func(m *manifests) {
			es := m.Workloads.Custom["ExternalSecret"][0]["spec"].(map[string]any)
			es["data"] = append(es["data"].([]any), map[string]any{"secretKey": "PAN_HMAC_KEY", "remoteRef": map[string]any{"key": "transaction-validator/prod/pan-hmac-key"}})
		}},
		{"console-ingress-same-alb", func(m *manifests) { delete(consoleIngress(m).Annotations, "alb.ingress.kubernetes.io/group.name") }},
		{"console-ingress-same-alb", func(m *manifests) { delete(m.Ingresses[0].Annotations, "alb.ingress.kubernetes.io/group.name") }},
		{"console-ingress-same-alb", func(m *manifests) { delete(consoleIngress(m).Annotations, "alb.ingress.kubernetes.io/wafv2-acl-arn") }},
		{"console-ingress-same-alb", func(m *manifests) { consoleIngress(m).Spec.Rules[0].HTTP.Paths[0].Path = "/" }},
		{"console-networkpolicies", func(m *manifests) {
			m.Workloads.NetworkPolicies = slices.DeleteFunc(m.Workloads.NetworkPolicies, func(np networkingv1.NetworkPolicy) bool {
				return np.Name == "operator-console-egress-to-validator"
			})
		}},
		{"console-networkpolicies", func(m *manifests) {
			np := policy(m, "operator-console-egress-to-database")
			np.Spec.Egress[0].Ports[0].Port = ptr.To(intstr.FromInt32(6379))
		}},
		{"console-networkpolicies", func(m *manifests) {
			np := policy(m, "operator-console-ingress-from-alb")
			np.Spec.Ingress[0].From[0].IPBlock.CIDR = "0.0.0.0/0"
		}},
		{"console-networkpolicies", func(m *manifests) {
			m.NetworkPolicies = slices.DeleteFunc(m.NetworkPolicies, func(np networkingv1.NetworkPolicy) bool {
				return np.Name == "ingress-from-operator-console"
			})
		}},
		{"etl-networkpolicies", func(m *manifests) {
			np := policy(m, "fx-rates-etl-egress-to-https")
			np.Spec.Egress[0].Ports = append(np.Spec.Egress[0].Ports, networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromInt32(80))})
		}},
		{"etl-networkpolicies", func(m *manifests) {
			np := policy(m, "fx-rates-etl-egress-to-https")
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, "Ingress")
			np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16"}}}}}
		}},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.ConcurrencyPolicy = batchv1.AllowConcurrent }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.Schedule = "0 9 * * 1-5" }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.TimeZone = nil }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.StartingDeadlineSeconds = nil }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.JobTemplate.Spec.ActiveDeadlineSeconds = nil }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.JobTemplate.Spec.BackoffLimit = ptr.To[int32](6) }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.JobTemplate.Spec.TTLSecondsAfterFinished = nil }},
		{"etl-cronjob", func(m *manifests) {
			etlCronJob(m.Workloads).Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		}},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.rule] = true
		t.Run(c.rule, func(t *testing.T) {
			m, err := decode(base)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range workloadRules {
				if v := r.check(prod, m); len(v) > 0 {
					t.Fatalf("unmutated prod already fails %s: %v", r.name, v)
				}
			}
			c.mutate(m)
			for _, r := range workloadRules {
				if r.name != c.rule {
					continue
				}
				v := r.check(prod, m)
				if len(v) == 0 {
					t.Errorf("rule %s did not catch the mutation", c.rule)
				}
				t.Logf("caught: %s", strings.Join(v, "; "))
			}
		})
	}
	for _, r := range workloadRules {
		if !covered[r.name] {
			t.Errorf("rule %s has no mutation case: nothing shows it can fail", r.name)
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
