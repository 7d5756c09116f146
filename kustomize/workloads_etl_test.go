package kustomize

// Rules of the FX-rates ETL's CronJob (components/fx-rates-etl).

import (
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

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
