package modules

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
)

// fileModule manages a regular file and its content.
type fileModule struct{}

// Attributes shared by the modules that manage a path.
var (
	modeAttr = contract.Attribute{Name: "mode", Type: cty.String,
		Doc: `Permissions as an octal string: "0644", "0600", "2775". Unset: a new file gets 0644 (a new directory 0755) and an existing one keeps its mode.`}
	ownerAttr = contract.Attribute{Name: "owner", Type: cty.String,
		Doc: "User name or numeric uid that owns it. Unset: a new one is owned by the connecting (or become) user; an existing one keeps its owner."}
	groupAttr = contract.Attribute{Name: "group", Type: cty.String,
		Doc: "Group name or numeric gid. Unset: as for owner."}
	presenceAttr = contract.Attribute{Name: "state", Type: cty.String, Default: cty.StringVal("present"),
		Doc: `"present" or "absent".`}
)

var fileSpec = &contract.Spec{
	Name:    "file",
	Summary: "Manage a regular file's content, mode and ownership.",
	Doc: `Writes content to a file on the host. The content is compared by sha256
computed on the host, so nothing is downloaded to find out whether it changed;
the plan shows a unified diff when the old content is small text (up to 64 KiB),
and the two checksums otherwise. A new content is uploaded to a temporary file
in the same directory, given its owner and mode, then renamed over the file: a
reader sees the old content or the new, never a truncated file. A change of
only mode or ownership does not upload anything.

The parent directory must exist (create it with a directory task; drover
orders the two by their paths). The file module refuses to replace a
directory, a symbolic link or a device. With state = "absent" the file is
removed if it exists.`,
	Attributes: []contract.Attribute{
		{Name: "path", Type: cty.String, Required: true, Doc: "Absolute path of the file on the host."},
		{Name: "content", Type: cty.String,
			Doc: "The whole content of the file, byte for byte. Unset: the content is not managed (a missing file is created empty)."},
		modeAttr, ownerAttr, groupAttr, presenceAttr,
	},
	Example: `file "motd" {
  path    = "/etc/motd"
  content = "Welcome to ${var.site}.\n"
  mode    = "0644"
  owner   = "root"
  group   = "root"
}`,
}

func (fileModule) Spec() *contract.Spec { return fileSpec }

func (fileModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(fileSpec, cfg)
	t := &fileTask{}
	t.Path, _ = a.absPath("path")
	t.Absent = a.enum("state", "present", "absent") == "absent"
	t.Meta = readMeta(a)
	if s, ok := a.str("content"); ok {
		t.Content = bytesContent([]byte(s), a.sensitive("content"))
	}
	if a.err != nil {
		return nil, a.err
	}
	return t, nil
}
