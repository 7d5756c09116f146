package pins

import (
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParseEnvRefusesShell(t *testing.T) {
	good := "# pins\n\nA=v1.2.3\nB=\"x y-z\"\nC=\nD=registry.example/a:b@sha256:00\n"
	env, err := ParseEnv(good)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "v1.2.3", "B": "x y-z", "C": "", "D": "registry.example/a:b@sha256:00"}
	if !maps.Equal(env, want) {
		t.Errorf("ParseEnv = %v, want %v", env, want)
	}
	for _, bad := range []string{
		"export A=1", "A=$(id)", "A=`id`", `A="$HOME"`, "A=~/x", "A=a b", "A='a'", `A="a\"b"`,
		"A=1 # comment", " A=1", "a=1", "A=1\r", "A=1\nA=2", "A", "A=\"open", "A=1;B=2",
	} {
		if env, err := ParseEnv(bad); err == nil {
			t.Errorf("ParseEnv(%q) = %v, want an error", bad, env)
		}
	}
}

// TestParseEnvReadsWhatBashSources parses airgap/versions.env and sources it with bash:
// every variable must come out the same.
func TestParseEnvReadsWhatBashSources(t *testing.T) {
	raw, err := os.ReadFile(repoFile(t, "airgap/versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnv(string(raw))
	if err != nil {
		t.Fatalf("airgap/versions.env: %v", err)
	}
	cmd := exec.Command("bash", "-c", `set -a; . airgap/versions.env; for k; do printf '%s\0' "${!k}"; done`, "bash")
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	cmd.Args = append(cmd.Args, keys...)
	cmd.Dir = repoFile(t, ".")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	values := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(values) != len(keys) {
		t.Fatalf("bash gave %d values for %d keys", len(values), len(keys))
	}
	for i, k := range keys {
		if env[k] != values[i] {
			t.Errorf("%s: ParseEnv reads %q, bash %q", k, env[k], values[i])
		}
	}
	if len(env) < 20 {
		t.Errorf("only %d pins read from airgap/versions.env", len(env))
	}
}

func FuzzParseEnv(f *testing.F) {
	f.Add("A=1\nB=\"x y\"\n# c\n")
	f.Add("A=$(x)")
	f.Fuzz(func(t *testing.T, text string) {
		env, err := ParseEnv(text)
		if err != nil {
			return
		}
		// What it accepts, written back quoted, reads back the same.
		var b strings.Builder
		for k, v := range env {
			b.WriteString(k + "=\"" + v + "\"\n")
		}
		again, err := ParseEnv(b.String())
		if err != nil || !maps.Equal(env, again) {
			t.Fatalf("%q: parsed %v, written back and parsed %v, %v", text, env, again, err)
		}
	})
}
