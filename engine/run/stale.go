package run

import (
	"path"
	"slices"

	"github.com/drover-cm/drover/modules/contract"
)

// Which instances must read their state again before they act. The state of
// every instance is read once, in one batch, before any of them runs; a
// change made since may have made that read stale. Each change is logged
// (hostRun.changes) with what it touched, and an instance is stale only when
// a change logged after its read (from its checkedAt on) touched what it
// provides or uses, or ran code. So a run costs one round trip per host for
// reading plus what the changes need.

// changeOf is what applying plan p of in touches.
func changeOf(in *instance, p *contract.Plan) changeRec {
	rel, ok := in.mtask.(contract.Relations)
	if !ok || runsCode(p) {
		return changeRec{opaque: true} // arbitrary code may have changed anything
	}
	// What it provides, and the paths it uses other than its own parent
	// directories: a task that edits a file it does not manage (line) has
	// changed that file.
	own := rel.Provides()
	for _, r := range own {
		if r.Kind == "package" {
			// Installing or removing a package runs its maintainer
			// scripts, which create users, write /etc and start or stop
			// services: a later service task's read (say) is stale.
			return changeRec{opaque: true}
		}
	}
	c := changeRec{wrote: p.Writes}
	created := onlyCreates(p)
	for _, r := range own {
		if created && (r.Kind == "user" || r.Kind == "group") {
			c.created = append(c.created, r)
		} else {
			c.res = append(c.res, r)
		}
	}
	for _, u := range rel.Uses() {
		if u.Kind == "path" && !isParentOf(u.Name, own) {
			c.res = append(c.res, u)
		}
	}
	return c
}

// onlyCreates reports whether every change of p creates something.
func onlyCreates(p *contract.Plan) bool {
	for _, c := range p.Changes {
		if c.Action != contract.Create {
			return false
		}
	}
	return p.Changed()
}

func runsCode(p *contract.Plan) bool {
	for _, c := range p.Changes {
		if c.Action == contract.Run {
			return true
		}
	}
	return false
}

// changeRec is what one changed task touched: the resources it provides,
// or anything (opaque) when it ran code or has no Relations.
//
// A user or group that a task created (it did not exist) is kept apart in
// created: a task that only uses it (a file owned by it, a user in it) read
// its state when the name resolved to nothing, so that read still holds;
// the plan made from it sets the owner or membership, which converges. At
// worst a path already owned by the numeric id the new account then takes
// is reported changed by a chown that changes nothing. Only a task that
// provides the same user or group is stale.
type changeRec struct {
	res     []contract.Resource
	created []contract.Resource
	opaque  bool
	// wrote is the content the change left in a file (Plan.Writes).
	wrote *contract.FileWrite
}

// stale reports whether in's state, read when the log of changes had
// in.checkedAt entries, may no longer describe it once log and then ahead
// (the changes of a batch that runs before it) are made: one of them touched
// a resource it provides or uses (other than the directory its own path is
// in, and the uses it says only order it, contract.OrderOnly), or ran code. A task whose module reads nothing
// (a command without creates or removes) is never stale: a new read would
// read nothing again.
func stale(in *instance, log, ahead []changeRec) bool {
	since := log[min(in.checkedAt, len(log)):]
	if len(since) == 0 && len(ahead) == 0 || !in.readsState() {
		return false
	}
	changed := map[contract.Resource]bool{}
	created := map[contract.Resource]bool{}
	for _, cs := range [][]changeRec{since, ahead} {
		for _, c := range cs {
			if c.opaque {
				return true
			}
			for _, r := range c.res {
				changed[r] = true
			}
			for _, r := range c.created {
				created[r] = true
			}
		}
	}
	if len(changed) == 0 && len(created) == 0 {
		return false
	}
	rel, ok := in.mtask.(contract.Relations)
	if !ok {
		return true
	}
	own := rel.Provides()
	for _, r := range own {
		if changed[r] || created[r] {
			return true
		}
	}
	var orders []contract.Resource
	if o, ok := in.mtask.(contract.OrderOnly); ok {
		orders = o.OrdersOnly()
	}
	for _, r := range rel.Uses() {
		if r.Kind == "path" && isParentOf(r.Name, own) || slices.Contains(orders, r) {
			continue
		}
		if changed[r] {
			return true
		}
	}
	return false
}

func isParentOf(dir string, rs []contract.Resource) bool {
	for _, r := range rs {
		if r.Kind == "path" && path.Dir(r.Name) == dir {
			return true
		}
	}
	return false
}

// rebase is the plan of in from the content the changes in log (since its
// read) and then ahead leave in the file it edits, when that is the only
// reason in is stale: in is a ContentEditor, and the changes that touch
// what it provides or uses are edits of its file that say what they leave
// there (Plan.Writes), of which the last one counts. So a chain of edits of
// one file (two line tasks) goes in one batch, each planned from what the
// one before it writes, without reading the file between them. ok is false
// when in must be read again (or is not stale).
func rebase(in *instance, log, ahead []changeRec) (p *contract.Plan, ok bool) {
	ce, isEditor := in.mtask.(contract.ContentEditor)
	if !isEditor || in.state != instChecked || in.checkErr != nil || in.delegate != nil {
		// A delegated batch reads its instances again under the
		// delegate's lock before it runs (applyBatch): that read would
		// undo the rebase.
		return nil, false
	}
	file := ce.EditedPath()
	var content []byte
	var wrote bool
	var others []changeRec
	for _, cs := range [][]changeRec{log[min(in.checkedAt, len(log)):], ahead} {
		for _, c := range cs {
			if c.wrote != nil && c.wrote.Path == file && !c.opaque && len(c.created) == 0 && onlyPath(c.res, file) {
				content, wrote = c.wrote.Content, true
				continue
			}
			others = append(others, c)
		}
	}
	if !wrote || stale(in, nil, others) {
		return nil, false
	}
	p, err := ce.DiffContent(content)
	if err != nil {
		return nil, false // read it: the error is then the read's
	}
	return p, true
}

// onlyPath reports whether rs are the path p alone.
func onlyPath(rs []contract.Resource, p string) bool {
	for _, r := range rs {
		if r.Kind != "path" || r.Name != p {
			return false
		}
	}
	return true
}
