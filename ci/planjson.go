package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// What the pipeline reads from a plan's JSON rendering (`tofu show -json`), the stable,
// documented format: which resources change, and whether anything is left afterwards.

// tfPlan is the part of the plan's JSON the checks read.
type tfPlan struct {
	FormatVersion   string `json:"format_version"`
	ResourceChanges []struct {
		Address string `json:"address"`
		Mode    string `json:"mode"`
		Change  struct {
			Actions []string `json:"actions"`
		} `json:"change"`
	} `json:"resource_changes"`
	PlannedValues struct {
		RootModule tfModule `json:"root_module"`
	} `json:"planned_values"`
}

// tfModule is a module of planned_values.
type tfModule struct {
	Resources []struct {
		Mode string `json:"mode"`
	} `json:"resources"`
	ChildModules []tfModule `json:"child_modules"`
}

func parsePlan(planJSON []byte) (*tfPlan, error) {
	var p tfPlan
	if err := json.Unmarshal(planJSON, &p); err != nil {
		return nil, fmt.Errorf("the plan's JSON: %w", err)
	}
	if p.FormatVersion == "" {
		return nil, fmt.Errorf("the plan's JSON has no format_version: not `tofu show -json` of a plan")
	}
	return &p, nil
}

// managed counts the managed resources of m and its children.
func (m tfModule) managed() int {
	n := 0
	for _, r := range m.Resources {
		if r.Mode == "managed" {
			n++
		}
	}
	for _, c := range m.ChildModules {
		n += c.managed()
	}
	return n
}

// changes are the managed resources a plan changes ("ADDRESS ACTIONS" each).
func (p *tfPlan) changes() []string {
	var out []string
	for _, rc := range p.ResourceChanges {
		a := rc.Change.Actions
		if rc.Mode != "managed" || slices.Equal(a, []string{"no-op"}) || slices.Equal(a, []string{"read"}) {
			continue
		}
		out = append(out, rc.Address+" "+strings.Join(a, ","))
	}
	return out
}

// creates counts the managed resources a plan creates (a replacement included).
func (p *tfPlan) creates() int {
	n := 0
	for _, rc := range p.ResourceChanges {
		if rc.Mode == "managed" && slices.Contains(rc.Change.Actions, "create") {
			n++
		}
	}
	return n
}

// isDestroy: after the plan nothing managed is left, and it deletes something. Apply
// refuses such a plan (it is destroy's), destroy anything else.
func (p *tfPlan) isDestroy() bool {
	if p.PlannedValues.RootModule.managed() > 0 {
		return false
	}
	for _, rc := range p.ResourceChanges {
		if rc.Mode == "managed" && slices.Contains(rc.Change.Actions, "delete") {
			return true
		}
	}
	return false
}

// platformModule names the platform submodule an address is in
// (module.platform.module.NAME...), or "platform" for the platform's own resources and
// the root's.
var platformModule = regexp.MustCompile(`^module\.platform\.module\.([^.\[]+)`)

// unexpectedChanges are the changes of p outside the modules in tolerated.
func unexpectedChanges(p *tfPlan, tolerated []string) []string {
	var out []string
	for _, c := range p.changes() {
		mod := "platform"
		if m := platformModule.FindStringSubmatch(c); m != nil {
			mod = m[1]
		}
		if !slices.Contains(tolerated, mod) {
			out = append(out, c)
		}
	}
	return out
}

// staleExcludes are the exclusions that match no resource of p, the plan with nothing
// excluded: entries that exclude nothing any more, which the list must not keep.
func staleExcludes(p *tfPlan, excludes []string) []string {
	var stale []string
	for _, x := range excludes {
		found := false
		for _, rc := range p.ResourceChanges {
			if a := rc.Address; a == x || strings.HasPrefix(a, x+"[") || strings.HasPrefix(a, x+".") {
				found = true
				break
			}
		}
		if !found {
			stale = append(stale, x)
		}
	}
	return stale
}
