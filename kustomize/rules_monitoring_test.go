package kustomize

// Monitoring: the ServiceMonitor (components/servicemonitor) the HPA's metric needs.

func checkServiceMonitor(_ env, m *manifests) (out []string) {
	if len(m.Services) != 1 {
		return []string{"want exactly 1 Service"}
	}
	sms := m.Custom["ServiceMonitor"]
	if len(sms) != 1 {
		return []string{"the HPA's request-rate metric needs the ServiceMonitor (components/servicemonitor)"}
	}
	sel, _ := path(sms[0], "spec", "selector", "matchLabels").(map[string]any)
	labels := map[string]string{}
	for k, v := range sel {
		labels[k] = str(v)
	}
	if !selects(labels, m.Services[0].Labels) {
		errorf(&out, "ServiceMonitor does not select the Service")
	}
	eps, _ := path(sms[0], "spec", "endpoints").([]any)
	ok := false
	for _, ep := range eps {
		em, _ := ep.(map[string]any)
		ok = ok || (str(em["port"]) == "metrics" && str(em["path"]) == "/metrics")
	}
	if !ok {
		errorf(&out, "ServiceMonitor must scrape port metrics at /metrics")
	}
	return out
}
