package run

import (
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
)

// hostDiags collects evaluation diagnostics from many hosts at once. The same
// error on many hosts is reported once, naming them, so a typo in a playbook
// run on 200 hosts is one message, not 200.
type hostDiags struct {
	dmu   sync.Mutex
	byKey map[string]*diagHosts
	keys  []string
}

type diagHosts struct {
	d     *hcl.Diagnostic
	hosts []string
}

// addDiags records diags as seen on host ("" when not about one host).
func (h *hostDiags) addDiags(host string, diags hcl.Diagnostics) {
	h.dmu.Lock()
	defer h.dmu.Unlock()
	if h.byKey == nil {
		h.byKey = map[string]*diagHosts{}
	}
	for _, d := range diags {
		k := d.Summary + "\x00" + d.Detail
		if d.Subject != nil {
			k += "\x00" + d.Subject.String()
		}
		dh := h.byKey[k]
		if dh == nil {
			dh = &diagHosts{d: d}
			h.byKey[k] = dh
			h.keys = append(h.keys, k)
		}
		dh.hosts = append(dh.hosts, host)
	}
}

// diagnostics returns what was recorded, in first-seen order, each naming
// the hosts it came from.
func (h *hostDiags) diagnostics() hcl.Diagnostics {
	h.dmu.Lock()
	defer h.dmu.Unlock()
	var out hcl.Diagnostics
	for _, k := range h.keys {
		dh := h.byKey[k]
		d := *dh.d
		sort.Strings(dh.hosts)
		if len(dh.hosts) > 0 && dh.hosts[0] != "" {
			d.Detail = strings.TrimRight(d.Detail, "\n") + "\n\n" + hostList(dh.hosts)
		}
		out = append(out, &d)
	}
	return out
}
