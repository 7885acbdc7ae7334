package inventory

// Overrides are the connection settings given on the command line, the
// highest precedence. Zero values leave the host's settings alone.
type Overrides struct {
	User       string // --user
	Become     *bool  // --become (nil: not given)
	BecomeUser string // --become-user
}

// ApplyOverrides applies command-line settings to h. Like Ansible's
// --become-user, BecomeUser does not by itself enable become.
func ApplyOverrides(h *Host, o Overrides) {
	if o.User != "" {
		h.User = o.User
	}
	if o.Become != nil {
		h.Become.Enabled = *o.Become
	}
	if o.BecomeUser != "" {
		h.Become.User = o.BecomeUser
	}
}
