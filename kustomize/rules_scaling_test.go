package kustomize

// Scaling and disruption: the HPA (base/hpa.yaml) and the PDB (base/pdb.yaml).

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func checkHPA(e env, m *manifests) (out []string) {
	if len(m.HPAs) != 1 {
		return []string{"want exactly 1 HorizontalPodAutoscaler"}
	}
	h := m.HPAs[0]
	cm, err := appConfig(m)
	if err != nil {
		return []string{err.Error()}
	}
	if h.Spec.MinReplicas == nil || h.Spec.MaxReplicas <= *h.Spec.MinReplicas {
		errorf(&out, "maxReplicas must be above minReplicas or the HPA cannot scale")
	}
	pool, err := strconv.Atoi(cm.Data["DB_POOL_MAX_CONNS"])
	if err != nil {
		pool = 16 // the service's default
	}
	if int(h.Spec.MaxReplicas)*pool > e.dbConnBudget {
		errorf(&out, "maxReplicas %d x DB_POOL_MAX_CONNS %d = %d exceeds the %s database connection budget %d",
			h.Spec.MaxReplicas, pool, int(h.Spec.MaxReplicas)*pool, e.name, e.dbConnBudget)
	}
	var cpu, rps bool
	for _, mt := range h.Spec.Metrics {
		switch {
		case mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU:
			u := mt.Resource.Target.AverageUtilization
			cpu = u != nil && *u > 0 && *u <= 80
			if !cpu {
				errorf(&out, "CPU target must be an averageUtilization in (0, 80]%%")
			}
		case mt.Pods != nil && mt.Pods.Metric.Name == customMetric:
			rps = true
			// MAX_TRANSACTIONS_PER_SECOND is service-wide: at the HPA ceiling the pods must
			// be able to carry everything the limiter admits at their per-pod target, or the
			// fleet saturates below the rate the service promises to accept.
			limit, err := strconv.Atoi(cm.Data["MAX_TRANSACTIONS_PER_SECOND"])
			v := mt.Pods.Target.AverageValue
			if v == nil || err != nil || v.Sign() <= 0 {
				errorf(&out, "%s needs a positive AverageValue target and MAX_TRANSACTIONS_PER_SECOND", customMetric)
			} else if capacity := float64(h.Spec.MaxReplicas) * v.AsApproximateFloat64(); capacity < float64(limit) {
				errorf(&out, "maxReplicas %d x %s target %s = %.0f req/s is below MAX_TRANSACTIONS_PER_SECOND %d: the fleet cannot carry what the service admits",
					h.Spec.MaxReplicas, customMetric, v.String(), capacity, limit)
			}
		}
	}
	if !cpu {
		errorf(&out, "HPA must scale on CPU utilization")
	}
	if !rps {
		errorf(&out, "HPA must scale on the custom Pods metric %s", customMetric)
	}
	if b := h.Spec.Behavior; b == nil || b.ScaleDown == nil || b.ScaleDown.StabilizationWindowSeconds == nil || *b.ScaleDown.StabilizationWindowSeconds < 120 {
		errorf(&out, "scale-down needs a stabilization window >= 120s so bursts do not flap the replica count")
	}
	return out
}

func checkPDB(e env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	if len(m.PDBs) != 1 {
		return []string{"want exactly 1 PodDisruptionBudget"}
	}
	p := m.PDBs[0].Spec
	if p.Selector == nil || !selects(p.Selector.MatchLabels, d.Spec.Template.Labels) {
		errorf(&out, "PDB selector does not select the pods")
	}
	switch {
	case p.MaxUnavailable != nil:
		if p.MaxUnavailable.Type != intstr.Int || p.MaxUnavailable.IntVal != 1 {
			errorf(&out, "PDB maxUnavailable must be 1, is %s", p.MaxUnavailable.String())
		}
	case p.MinAvailable != nil:
		if p.MinAvailable.Type != intstr.Int || p.MinAvailable.IntVal < e.minReplicas-1 || p.MinAvailable.IntVal >= e.minReplicas {
			errorf(&out, "PDB minAvailable must be minReplicas-1 (%d), is %s", e.minReplicas-1, p.MinAvailable.String())
		}
	default:
		errorf(&out, "PDB sets neither maxUnavailable nor minAvailable")
	}
	return out
}
