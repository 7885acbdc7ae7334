package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/inventory"
)

var inventoryCmd = &cobra.Command{
	Use:   "inventory",
	Short: "Inspect inventories",
	RunE: func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("unknown command %q for %q; see '%s --help'", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return cmd.Help()
	},
}

var invListOpts struct {
	vars bool
}

var inventoryListCmd = &cobra.Command{
	Use:   "list -i FILE [PATTERN]",
	Short: "List the hosts a pattern selects, with how drover will reach them",
	Long: `List the hosts PATTERN selects (default: all) after every inventory file,
group variable, default and ~/.ssh/config setting has been applied: the address,
port and user drover will connect with, the connection type and the groups.

With --vars each host's merged variables follow its row; values of variables
whose names look secret (password, passphrase, secret, token, private key) are
hidden. With --json one JSON object is printed per host.

Errors in the inventory are shown with the file, line and column and a snippet
of the source, and the command exits with status 1.`,
	Example: `  drover inventory list -i hosts.hcl
  drover inventory list -i hosts.ini -i extra.yml 'web:&prod' --vars`,
	Args: func(cmd *cobra.Command, args []string) error {
		if len(args) > 1 {
			return usageErrorf("inventory list: expected at most one host pattern, got %d arguments (quote a pattern with spaces)", len(args))
		}
		return nil
	},
	RunE: runInventoryList,
}

func init() {
	inventoryListCmd.Flags().BoolVar(&invListOpts.vars, "vars", false, "show each host's merged variables")
	inventoryCmd.AddCommand(inventoryListCmd)
	rootCmd.AddCommand(inventoryCmd)
}

func runInventoryList(cmd *cobra.Command, args []string) error {
	pattern := "all"
	if len(args) == 1 {
		pattern = args[0]
	}
	u := newUI(cmd)
	if err := checkShard(); err != nil {
		return err
	}
	inv, err := loadInventoryAndCloud(cmd, u)
	if err != nil {
		return err
	}
	hosts, err := selectHosts(u, inv, pattern)
	if err != nil {
		return err
	}
	ov, err := cliOverrides(cmd)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		inventory.ApplyOverrides(h, ov)
	}
	if global.jsonOut {
		return listJSON(u, hosts, invListOpts.vars)
	}
	listTable(u, hosts, invListOpts.vars)
	return nil
}

// secretName matches variable names whose values are not shown.
var secretName = regexp.MustCompile(`(?i)pass|secret|token|private|credential|api_?key`)

const hiddenValue = "(sensitive)"

// hostGroups lists a host's groups without the implicit "all".
func hostGroups(h *inventory.Host) []string {
	return slices.DeleteFunc(slices.Clone(h.Groups), func(g string) bool { return g == inventory.GroupAll })
}

func listTable(u *ui, hosts []*inventory.Host, withVars bool) {
	style := report.NewStyle(u.color)
	header := []string{"HOST", "ADDRESS", "PORT", "USER", "CONNECTION", "GROUPS"}
	rows := [][]string{header}
	for _, h := range hosts {
		addr, port, user := h.Address, strconv.Itoa(h.Port), h.User
		conn := h.Connection
		if h.Connection == inventory.ConnLocal {
			addr, port = "-", "-"
		}
		if h.ProxyJump != "" {
			conn += " via " + h.ProxyJump
		}
		if h.Become.Enabled {
			user += " (become " + h.Become.User + ")"
		}
		groups := strings.Join(hostGroups(h), ",")
		if groups == "" {
			groups = "-"
		}
		rows = append(rows, []string{h.Name, addr, port, user, conn, groups})
	}
	widths := make([]int, len(header))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	line := func(w io.Writer, r []string, color func(i int, s string) string) {
		var b strings.Builder
		for i, c := range r {
			cell := c
			if i < len(r)-1 {
				cell += strings.Repeat(" ", widths[i]-len(c)+2)
			}
			b.WriteString(color(i, cell))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	out := u.stdout
	line(out, rows[0], func(_ int, s string) string { return style.Bold.Sprint(s) })
	for i, h := range hosts {
		line(out, rows[i+1], func(col int, s string) string {
			if col == 0 {
				return style.Host.Sprint(s)
			}
			return s
		})
		if withVars {
			for _, name := range sortedVarNames(h.Vars) {
				fmt.Fprintf(out, "    %s = %s\n", style.Dim.Sprint(name), u.masker.String(varText(name, h.Vars[name])))
			}
		}
	}
	noun := "hosts"
	if len(hosts) == 1 {
		noun = "host"
	}
	fmt.Fprintf(out, "\n%d %s\n", len(hosts), noun)
}

func sortedVarNames(vars map[string]cty.Value) []string {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// varText renders a variable's value in HCL syntax, or hiddenValue.
func varText(name string, v cty.Value) string {
	if secretName.MatchString(name) || v.ContainsMarked() {
		return hiddenValue
	}
	if !v.IsWhollyKnown() {
		return "(known at run time)"
	}
	return strings.TrimSpace(string(hclwrite.TokensForValue(v).Bytes()))
}

// hostJSON is one line of `inventory list --json`.
type hostJSON struct {
	Name       string                     `json:"name"`
	Address    string                     `json:"address"`
	Port       int                        `json:"port"`
	User       string                     `json:"user"`
	Connection string                     `json:"connection"`
	ProxyJump  string                     `json:"proxy_jump,omitempty"`
	Become     bool                       `json:"become"`
	BecomeUser string                     `json:"become_user,omitempty"`
	Groups     []string                   `json:"groups"`
	Source     string                     `json:"source,omitempty"`
	Vars       map[string]json.RawMessage `json:"vars,omitempty"`
}

func listJSON(u *ui, hosts []*inventory.Host, withVars bool) error {
	enc := json.NewEncoder(u.stdout)
	enc.SetEscapeHTML(false)
	for _, h := range hosts {
		j := hostJSON{
			Name: h.Name, Address: h.Address, Port: h.Port, User: h.User, Connection: h.Connection,
			ProxyJump: h.ProxyJump, Become: h.Become.Enabled, Groups: hostGroups(h), Source: h.Source,
		}
		if j.Groups == nil {
			j.Groups = []string{}
		}
		if h.Become.Enabled {
			j.BecomeUser = h.Become.User
		}
		if withVars {
			j.Vars = map[string]json.RawMessage{}
			for name, v := range h.Vars {
				j.Vars[name] = varJSON(name, v)
			}
		}
		if err := enc.Encode(j); err != nil {
			return fmt.Errorf("writing host %s as JSON: %w", h.Name, err)
		}
	}
	return nil
}

func varJSON(name string, v cty.Value) json.RawMessage {
	hidden, _ := json.Marshal(hiddenValue)
	if secretName.MatchString(name) || v.ContainsMarked() {
		return hidden
	}
	b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
	if err != nil {
		msg, _ := json.Marshal("(cannot show: " + err.Error() + ")")
		return msg
	}
	return b
}
