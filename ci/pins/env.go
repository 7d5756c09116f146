package pins

import (
	"fmt"
	"regexp"
	"strings"
)

// envLine is the one assignment form airgap/versions.env may use: a shell variable name,
// then a value bash takes literally, either bare or in double quotes without expansions
// ($), command substitution (`), escapes (\) or nested quotes. Any other shell syntax is
// refused, so that bash sourcing the file and ParseEnv reading it cannot disagree.
var envLine = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(?:([A-Za-z0-9._/:@+,=-]*)|"([^"$` + "`" + `\\]*)")$`)

// ParseEnv reads a pin file such as airgap/versions.env: KEY=VALUE assignments, blank lines
// and whole-line # comments. It fails on any other line and on a key assigned twice,
// naming the line, so a pin the pipeline reads is exactly the one bash sources.
func ParseEnv(text string) (map[string]string, error) {
	env := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := envLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("line %d: %q is not KEY=VALUE (a bare value of letters, digits and ._/:@+,=- or a double-quoted one without $, `, \\ or \")", i+1, line)
		}
		key, value := m[1], m[2]
		if strings.HasPrefix(m[0][len(key)+1:], `"`) {
			value = m[3]
		}
		if _, dup := env[key]; dup {
			return nil, fmt.Errorf("line %d: %s is assigned twice", i+1, key)
		}
		env[key] = value
	}
	return env, nil
}
