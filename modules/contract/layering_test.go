package contract_test

import (
	"os/exec"
	"strings"
	"testing"
)

const repo = "github.com/drover-cm/drover/"

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

// TestEngineImportsNoModule: the engine sees modules only through this
// package and the catalog it is handed, never an implementation.
func TestEngineImportsNoModule(t *testing.T) {
	for _, p := range goList(t, "-deps", repo+"engine/...") {
		if (p == repo+"modules" || strings.HasPrefix(p, repo+"modules/")) && p != repo+"modules/contract" {
			t.Errorf("an engine package depends on %s; give the engine what it needs through modules/contract", p)
		}
	}
}

// TestContractIsALeaf: the contract imports only the transport, facts and
// cty (and the standard library), so every part of drover can import it.
func TestContractIsALeaf(t *testing.T) {
	allowed := map[string]bool{repo + "engine/transport": true, repo + "engine/facts": true}
	for _, p := range goList(t, "-f", `{{join .Imports " "}}`, repo+"modules/contract") {
		if strings.Contains(p, ".") && !allowed[p] && !strings.HasPrefix(p, "github.com/zclconf/go-cty/") {
			t.Errorf("modules/contract imports %s", p)
		}
	}
}
