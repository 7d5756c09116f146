package kustomize

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// exitCodesFile is where the fx-rates-etl binary's exit codes are declared; the CronJob's
// podFailurePolicy must name exactly the ones that fail the Job.
const exitCodesFile = "../svc/internal/fxrates/exit.go"

// etlExitCodes reads the integer constants named Exit* from exitCodesFile.
func etlExitCodes() (map[string]int32, error) {
	f, err := parser.ParseFile(token.NewFileSet(), exitCodesFile, nil, 0)
	if err != nil {
		return nil, err
	}
	codes := map[string]int32{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.INT {
					return nil, fmt.Errorf("%s: %s is not an integer literal", exitCodesFile, name.Name)
				}
				n, err := strconv.ParseInt(lit.Value, 0, 32)
				if err != nil {
					return nil, err
				}
				codes[name.Name] = int32(n)
			}
		}
	}
	for _, want := range []string{"ExitOK", "ExitFailed", "ExitConfig", "ExitRejected", "ExitStale"} {
		if _, ok := codes[want]; !ok {
			return nil, fmt.Errorf("%s declares no %s", exitCodesFile, want)
		}
	}
	return codes, nil
}

// checkETLFailurePolicy: a run that a new pod would end the same way (configuration,
// rejected data, stale) fails the Job at once; a transient failure is retried (counted
// against backoffLimit); a disruption is not counted; and the Job's deadline leaves the
// binary's own run time-out.
func checkETLFailurePolicy(cj *batchv1.CronJob, codes map[string]int32) (out []string) {
	j := cj.Spec.JobTemplate.Spec
	if j.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		errorf(&out, "podFailurePolicy requires restartPolicy Never")
	}
	if j.PodFailurePolicy == nil {
		return append(out, "no podFailurePolicy: rejected data would be retried by backoffLimit")
	}
	if j.BackoffLimit == nil || *j.BackoffLimit < 1 {
		errorf(&out, "backoffLimit must leave a transient failure at least one retry")
	}
	failJob := map[int32]bool{}
	disruptionIgnored := false
	for _, r := range j.PodFailurePolicy.Rules {
		if e := r.OnExitCodes; e != nil {
			if e.ContainerName == nil || *e.ContainerName != etlName {
				errorf(&out, "an onExitCodes rule must name container %s", etlName)
			}
			if e.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn {
				errorf(&out, "onExitCodes rules must list codes (In), not %s", e.Operator)
				continue
			}
			for _, v := range e.Values {
				if r.Action != batchv1.PodFailurePolicyActionFailJob {
					errorf(&out, "exit code %d has action %s; only FailJob rules may name exit codes", v, r.Action)
				}
				failJob[v] = true
			}
		}
		for _, c := range r.OnPodConditions {
			if c.Type == corev1.DisruptionTarget && r.Action == batchv1.PodFailurePolicyActionIgnore {
				disruptionIgnored = true
			}
		}
	}
	for _, name := range []string{"ExitConfig", "ExitRejected", "ExitStale"} {
		if !failJob[codes[name]] {
			errorf(&out, "exit code %d (%s, %s) must fail the Job at once", codes[name], name, exitCodesFile)
		}
		delete(failJob, codes[name])
	}
	for v := range failJob {
		errorf(&out, "exit code %d fails the Job but is not ExitConfig, ExitRejected or ExitStale in %s", v, exitCodesFile)
	}
	if !disruptionIgnored {
		errorf(&out, "a DisruptionTarget pod condition must be ignored (a drained node is not the run's failure)")
	}
	// The binary's FX_RUN_TIMEOUT must end a run before the Job's deadline kills it.
	c := workloadContainer(etlName, &j.Template)
	if c == nil {
		return append(out, "no container "+etlName)
	}
	var runTimeout time.Duration
	for _, ev := range c.Env {
		if ev.Name == "FX_RUN_TIMEOUT" {
			d, err := time.ParseDuration(ev.Value)
			if err != nil {
				errorf(&out, "FX_RUN_TIMEOUT=%q: %v", ev.Value, err)
			}
			runTimeout = d
		}
	}
	if runTimeout == 0 {
		errorf(&out, "env FX_RUN_TIMEOUT must be set, below activeDeadlineSeconds")
	} else if j.ActiveDeadlineSeconds == nil || time.Duration(*j.ActiveDeadlineSeconds)*time.Second <= runTimeout {
		errorf(&out, "activeDeadlineSeconds must exceed FX_RUN_TIMEOUT (%s)", runTimeout)
	}
	return out
}

func TestETLFailurePolicyMatchesExitCodes(t *testing.T) {
	codes, err := etlExitCodes()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) {
			cj := etlCronJob(render(t, filepath.Join("overlays", e.name)).Workloads)
			if cj == nil {
				t.Fatal("no ETL CronJob")
			}
			for _, v := range checkETLFailurePolicy(cj, codes) {
				t.Error(v)
			}
		})
	}
}

// Each case breaks the contract one way; the check must object.
func TestETLFailurePolicyCatchesMutations(t *testing.T) {
	codes, err := etlExitCodes()
	if err != nil {
		t.Fatal(err)
	}
	prod := envs[len(envs)-1]
	raw, err := build(filepath.Join("overlays", prod.name))
	if err != nil {
		t.Fatal(err)
	}
	rules := func(cj *batchv1.CronJob) []batchv1.PodFailurePolicyRule {
		return cj.Spec.JobTemplate.Spec.PodFailurePolicy.Rules
	}
	failJob := func(cj *batchv1.CronJob) *batchv1.PodFailurePolicyOnExitCodesRequirement {
		for _, r := range rules(cj) {
			if r.OnExitCodes != nil {
				return r.OnExitCodes
			}
		}
		panic("no onExitCodes rule")
	}
	for name, mutate := range map[string]func(cj *batchv1.CronJob){
		"no policy": func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.PodFailurePolicy = nil },
		"rejected retried": func(cj *batchv1.CronJob) {
			failJob(cj).Values = slices.DeleteFunc(failJob(cj).Values, func(v int32) bool { return v == codes["ExitRejected"] })
		},
		"stale retried": func(cj *batchv1.CronJob) {
			failJob(cj).Values = slices.DeleteFunc(failJob(cj).Values, func(v int32) bool { return v == codes["ExitStale"] })
		},
		"transient failed":  func(cj *batchv1.CronJob) { failJob(cj).Values = append(failJob(cj).Values, codes["ExitFailed"]) },
		"codes renumbered":  func(cj *batchv1.CronJob) { failJob(cj).Values = []int32{13, 14, 15} },
		"NotIn":             func(cj *batchv1.CronJob) { failJob(cj).Operator = batchv1.PodFailurePolicyOnExitCodesOpNotIn },
		"other container":   func(cj *batchv1.CronJob) { failJob(cj).ContainerName = nil },
		"disruption counts": func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.PodFailurePolicy.Rules = rules(cj)[1:] },
		"restart in place": func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		},
		"no retry at all": func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.BackoffLimit = new(int32) },
		"deadline too short": func(cj *batchv1.CronJob) {
			d := int64(50 * 60)
			cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds = &d
		},
		"no run timeout": func(cj *batchv1.CronJob) {
			c := workloadContainer(etlName, &cj.Spec.JobTemplate.Spec.Template)
			c.Env = slices.DeleteFunc(c.Env, func(ev corev1.EnvVar) bool { return ev.Name == "FX_RUN_TIMEOUT" })
		},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			cj := etlCronJob(m.Workloads)
			if v := checkETLFailurePolicy(cj, codes); len(v) != 0 {
				t.Fatalf("unmutated manifest fails: %v", v)
			}
			mutate(cj)
			if v := checkETLFailurePolicy(cj, codes); len(v) == 0 {
				t.Fatal("the check accepted the mutation")
			}
		})
	}
}
