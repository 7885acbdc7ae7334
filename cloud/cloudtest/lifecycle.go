package cloudtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/drover-cm/drover/cloud"
)

// Lifecycle runs the life of three instances through p against the fake srv:
// create, poll until running, list by tag finds exactly them, a refused
// create (bad size) fails at once with the API's message, a rate-limited
// request is retried, delete, then 404. good is a valid spec; its Name gets a
// suffix per instance. bad is good with a size the API refuses.
func Lifecycle(t *testing.T, p cloud.Provider, srv *Server, good cloud.Spec, badSize string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	owner, err := cloud.OwnerTag("lifecycle", "web")
	if err != nil {
		t.Fatal(err)
	}
	good.Tags = append([]string{owner}, good.Tags...)

	var ids []string
	for i := range 3 {
		s := good
		s.Name = fmt.Sprintf("%s-%d", good.Name, i)
		in, err := p.Create(ctx, s)
		if err != nil {
			t.Fatalf("create %s: %v", s.Name, err)
		}
		if in.ID == "" || in.Name != s.Name {
			t.Fatalf("create %s returned %+v", s.Name, in)
		}
		ids = append(ids, in.ID)
	}
	for _, id := range ids {
		in := waitRunning(t, ctx, p, id)
		if in.Address() == "" {
			t.Errorf("running instance %s has no address: %+v", id, in)
		}
		if !in.HasTag(owner) {
			t.Errorf("instance %s lost its owner tag: %v", id, in.Tags)
		}
	}

	list := func() []cloud.Instance {
		t.Helper()
		l, err := p.List(ctx, owner)
		if err != nil {
			t.Fatalf("list by %s: %v", owner, err)
		}
		return l
	}
	l := list()
	if len(l) != 3 {
		t.Fatalf("list by owner tag found %d instances, want 3: %+v", len(l), l)
	}
	for i, in := range l {
		if want := fmt.Sprintf("%s-%d", good.Name, i); in.Name != want {
			t.Errorf("list[%d].Name = %q, want %q", i, in.Name, want)
		}
	}
	if l, err := p.List(ctx, "drover:other:web"); err != nil || len(l) != 0 {
		t.Errorf("list by another tag = %v, %v; want nothing", l, err)
	}

	// A refused request fails at once, with the API's message.
	before, creates, _ := srv.Counts()
	bad := good
	bad.Name = good.Name + "-bad"
	bad.Size = badSize
	_, err = p.Create(ctx, bad)
	var ae *cloud.APIError
	if !errors.As(err, &ae) || (ae.Status != 422 && ae.Status != 400) || ae.Message == "" {
		t.Errorf("create with size %q: err = %v, want a 422/400 APIError with the API's message", badSize, err)
	}
	if after, c, _ := srv.Counts(); after != before+1 || c != creates {
		t.Errorf("refused create sent %d requests and created %d, want 1 and 0", after-before, c-creates)
	}

	// A rate limit is retried.
	before, _, _ = srv.Counts()
	srv.FailNext(1, 429)
	if l := list(); len(l) != 3 {
		t.Errorf("list after a 429 found %d instances, want 3", len(l))
	}
	if after, _, _ := srv.Counts(); after != before+2 {
		t.Errorf("list after a 429 sent %d requests, want 2", after-before)
	}

	for _, id := range ids {
		if err := p.Delete(ctx, id); err != nil {
			t.Fatalf("delete %s: %v", id, err)
		}
	}
	for _, id := range ids {
		if _, err := p.Get(ctx, id); !cloud.IsNotFound(err) {
			t.Errorf("get deleted %s: err = %v, want not found", id, err)
		}
	}
	if err := p.Delete(ctx, ids[0]); err != nil {
		t.Errorf("deleting a deleted instance: %v", err)
	}
	if l := list(); len(l) != 0 {
		t.Errorf("list after destroy found %+v", l)
	}
	srv.AssertValid(t)
}

func waitRunning(t *testing.T, ctx context.Context, p cloud.Provider, id string) cloud.Instance {
	t.Helper()
	for {
		in, err := p.Get(ctx, id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		if in.Status == cloud.StatusRunning {
			return in
		}
		select {
		case <-ctx.Done():
			t.Fatalf("instance %s never ran: last %+v", id, in)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ResizeLifecycle resizes one instance through p against the fake srv: a
// resize to bigger returns the instance running with the new size (and a
// read agrees), a resize to refused (a size the API refuses for it) fails
// with the API's 422/400 and its message and leaves the instance running
// with its size, then the instance is deleted. good is a valid spec.
func ResizeLifecycle(t *testing.T, p interface {
	cloud.Provider
	cloud.Resizer
}, srv *Server, good cloud.Spec, bigger, refused string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	good.Name += "-resize"
	in, err := p.Create(ctx, good)
	if err != nil {
		t.Fatalf("create %s: %v", good.Name, err)
	}
	waitRunning(t, ctx, p, in.ID)

	got, err := p.Resize(ctx, in.ID, bigger)
	if err != nil {
		t.Fatalf("resize %s to %s: %v", in.ID, bigger, err)
	}
	if got.Size != bigger || got.Status != cloud.StatusRunning || got.Address() == "" {
		t.Errorf("resize returned %+v, want it running with size %s and an address", got, bigger)
	}
	if now, err := p.Get(ctx, in.ID); err != nil || now.Size != bigger || now.Status != cloud.StatusRunning {
		t.Errorf("after resize: %+v, %v", now, err)
	}

	_, err = p.Resize(ctx, in.ID, refused)
	var ae *cloud.APIError
	if !errors.As(err, &ae) || (ae.Status != 422 && ae.Status != 400) || ae.Message == "" {
		t.Errorf("resize to %q: err = %v, want a 422/400 APIError with the API's message", refused, err)
	}
	if now, err := p.Get(ctx, in.ID); err != nil || now.Size != bigger || now.Status != cloud.StatusRunning {
		t.Errorf("after a refused resize: %+v, %v; want it running, size %s", now, err, bigger)
	}
	if err := p.Delete(ctx, in.ID); err != nil {
		t.Fatalf("delete %s: %v", in.ID, err)
	}
	srv.AssertValid(t)
}
