# "Something is wrong with the network": what listens (against an allow-list),
# connection states, interface errors and drops, routes and DNS.
#
#   drover run -i inventory.hcl examples/runbooks/network.hcl all --html net.html

variable "allowed_ports" {
  type    = list(string)
  default = ["22", "53", "68", "80", "123", "443"]
}

variable "allowed_processes" {
  type    = list(string)
  default = ["sshd", "systemd-resolve", "chronyd", "ntpd", "dhclient", "systemd-network"]
}

variable "resolve" {
  description = "A name every host should resolve."
  type        = string
  default     = "localhost"
}

runbook "network" {
  description = "Sockets, interfaces, routes and DNS"

  probe "listening" {
    command  = "ss -tulpn"
    fallback = ["netstat -tulpn"]
    regex    = "^(?P<proto>tcp6?|udp6?)\\s+(?:[A-Z-]+\\s+)?\\d+\\s+\\d+\\s+(?P<addr>\\S+):(?P<port>\\d+)\\s+\\S+\\s*(?:LISTEN\\s+)?(?:users:\\(\\(\"(?P<ss_proc>[^\"]+)\"|\\d+/(?P<ns_proc>\\S+))?"
  }
  probe "tcp_states" {
    command  = "ss -tan | awk 'NR > 1 { n[$1]++ } END { for (s in n) print s, n[s] }'"
    requires = ["ss", "awk"]
    fallback = ["netstat -tan | awk 'NR > 2 { n[$6]++ } END { for (s in n) print s, n[s] }'"]
    format   = "kv"
    separator = " "
  }
  probe "interfaces" {
    command = "cat /proc/net/dev"
    regex   = "^\\s*(?P<iface>[^:\\s]+):\\s*(?P<rx_bytes>\\d+)\\s+(?P<rx_packets>\\d+)\\s+(?P<rx_errs>\\d+)\\s+(?P<rx_drop>\\d+)\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+(?P<tx_bytes>\\d+)\\s+(?P<tx_packets>\\d+)\\s+(?P<tx_errs>\\d+)\\s+(?P<tx_drop>\\d+)"
  }
  probe "addresses" {
    command  = "ip -brief address"
    fallback = ["ifconfig -a"]
  }
  probe "routes" {
    command  = "ip route"
    fallback = ["route -n", "netstat -rn"]
  }
  probe "resolv_conf" {
    command = "cat /etc/resolv.conf"
  }
  probe "dns" {
    command = "getent hosts ${var.resolve}"
    timeout = 5
  }

  check "unexpected_listener" {
    # Without the process name (another user's socket, or a root probe under
    # read-only enforcement, which cannot read other processes' fds) the
    # port allow-list alone decides.
    for_each = { for r in probe.listening.rows : "${r.proto}/${r.port}" => merge(r, { proc = r.ss_proc != "" ? r.ss_proc : r.ns_proc }) }
    warn     = !contains(var.allowed_ports, each.value.port) && !contains(var.allowed_processes, each.value.proc)
    message  = "${each.value.proc != "" ? each.value.proc : "a process (name not readable)"} listens on ${each.value.addr}:${each.value.port} (${each.value.proto}), not in the allow-lists"
  }
  check "time_wait" {
    warn    = num(lookup(probe.tcp_states.values, "TIME-WAIT", lookup(probe.tcp_states.values, "TIME_WAIT", "0"))) > 5000
    message = "${lookup(probe.tcp_states.values, "TIME-WAIT", lookup(probe.tcp_states.values, "TIME_WAIT", "0"))} connections in TIME-WAIT"
  }
  check "interface_errors" {
    for_each = { for r in probe.interfaces.rows : r.iface => r }
    warn     = num(each.value.rx_errs) + num(each.value.tx_errs) + num(each.value.rx_drop) + num(each.value.tx_drop) > 0
    message  = "${each.key}: ${each.value.rx_errs} rx / ${each.value.tx_errs} tx errors, ${each.value.rx_drop} rx / ${each.value.tx_drop} tx drops"
  }
  check "no_default_route" {
    warn    = !strcontains(probe.routes.stdout, "default") && !strcontains(probe.routes.stdout, "0.0.0.0")
    message = "no default route"
  }
  check "dns" {
    crit    = !probe.dns.ok
    message = "${var.resolve} does not resolve (${probe.dns.status})"
  }
}
