package ec2_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/ec2"
)

var webSpec = cloud.Spec{
	Name: "web", Size: "t3.micro", Image: "ami-0abcdef1234567890", KeyName: "ops",
	SubnetID: "subnet-0123456789abcdef0", SecurityGroupIDs: []string{"sg-0123456789abcdef0", "sg-0fedcba9876543210"},
	Tags: []string{"role=web", "drover:shop:web"}, UserData: "#cloud-config\npackages: [nginx]\n",
}

// newFake starts the EC2 fake and a provider pointed at it.
func newFake(t *testing.T, o cloudtest.Options) (*cloudtest.Server, *ec2.Provider) {
	t.Helper()
	cloudtest.AWSTestEnv(t)
	srv := cloudtest.NewEC2(o)
	t.Cleanup(srv.Close)
	p, err := ec2.New(context.Background(), ec2.Config{Region: "us-east-1", BaseURL: srv.URL, Poll: time.Millisecond,
		Backoff: cloud.Backoff{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, p
}

func TestLifecycle(t *testing.T) {
	srv, p := newFake(t, cloudtest.Options{PollsUntilRunning: 2})
	cloudtest.Lifecycle(t, p, srv, webSpec, "t9.gigantic")
}

// Everything a Spec says reaches RunInstances.
func TestCreateSendsTheSpec(t *testing.T) {
	srv, p := newFake(t, cloudtest.Options{})
	in, err := p.Create(context.Background(), webSpec)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := srv.EC2Launch(in.ID)
	want := cloudtest.EC2Launch{
		ImageID: webSpec.Image, InstanceType: webSpec.Size, KeyName: "ops", SubnetID: webSpec.SubnetID,
		SecurityGroupIDs: webSpec.SecurityGroupIDs, UserData: webSpec.UserData,
		Tags: map[string]string{"Name": "web", "role": "web", "drover:shop:web": ""},
	}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("RunInstances got\n%+v\nwant\n%+v", got, want)
	}
	srv.AssertValid(t)
}

// Resize stops, changes the type and starts; an unknown type is refused
// before the instance is stopped.
func TestResize(t *testing.T) {
	srv, p := newFake(t, cloudtest.Options{PollsUntilRunning: 2})
	cloudtest.ResizeLifecycle(t, p, srv, webSpec, "t3.small", "t9.gigantic")
}

// A type change EC2 refuses (an arm64 type for an x86_64 AMI) starts the
// instance again, with its old type, and returns EC2's message.
func TestResizeRefusedStartsAgain(t *testing.T) {
	srv, p := newFake(t, cloudtest.Options{PollsUntilRunning: 2})
	ctx := context.Background()
	in, err := p.Create(ctx, webSpec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Resize(ctx, in.ID, "t4g.micro")
	var ae *cloud.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "architecture") {
		t.Errorf("resize to t4g.micro: err = %v, want EC2's 400 about the architecture", err)
	}
	now, err := p.Get(ctx, in.ID)
	if err != nil || now.Status != cloud.StatusRunning || now.Size != "t3.micro" {
		t.Errorf("after a refused resize: %+v, %v; want it running as t3.micro", now, err)
	}
	// Resizing to the size it has reads it and changes nothing.
	before, _, _ := srv.Counts()
	if got, err := p.Resize(ctx, in.ID, "t3.micro"); err != nil || got.Size != "t3.micro" || got.Status != cloud.StatusRunning {
		t.Errorf("resize to its own size: %+v, %v", got, err)
	}
	if after, _, _ := srv.Counts(); after != before+1 {
		t.Errorf("resize to its own size sent %d requests, want 1 (a read)", after-before)
	}
	if _, err := p.Resize(ctx, "i-00000000000000000", "t3.small"); !cloud.IsNotFound(err) {
		t.Errorf("resize of an unknown instance: %v, want not found", err)
	}
	srv.AssertValid(t)
}

const (
	ed25519Key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0bQ2eXl2bRrQkKpy5v0u2pZ8k6mD4i2Jg7yY0xqNp root@web-0"
	ecdsaKey   = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg= root@web-0"
)

func TestHostKeys(t *testing.T) {
	srv, p := newFake(t, cloudtest.Options{PollsUntilRunning: 2, HostKeys: func(n int) []string {
		if n == 0 {
			return []string{ecdsaKey, ed25519Key}
		}
		return nil
	}})
	ctx := context.Background()
	a, err := p.Create(ctx, webSpec)
	if err != nil {
		t.Fatal(err)
	}
	// Not booted: no console output yet.
	if keys, err := p.HostKeys(ctx, a.ID); keys != nil || err != nil {
		t.Errorf("host keys before boot: %v, %v; want nil, nil", keys, err)
	}
	for in := a; in.Status != cloud.StatusRunning; {
		if in, err = p.Get(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := p.HostKeys(ctx, a.ID)
	if err != nil || !reflect.DeepEqual(keys, []string{ecdsaKey, ed25519Key}) {
		t.Errorf("host keys = %q, %v", keys, err)
	}
	srv.SetEC2HostKeys(func(int) []string { return []string{ed25519Key} })
	if keys, err := p.HostKeys(ctx, a.ID); err != nil || !reflect.DeepEqual(keys, []string{ed25519Key}) {
		t.Errorf("host keys after SetEC2HostKeys = %q, %v", keys, err)
	}
	if _, err := p.HostKeys(ctx, "i-00000000000000000"); !cloud.IsNotFound(err) {
		t.Errorf("host keys of an unknown instance: %v, want not found", err)
	}
	// A console without cloud-init's block (yet): nil, nil.
	srv.SetConsoleOutput(a.ID, "[    0.000000] Linux version 6.1.0\n-----BEGIN SSH HOST KEY KEYS-----\n"+ed25519Key+"\n")
	if keys, err := p.HostKeys(ctx, a.ID); keys != nil || err != nil {
		t.Errorf("host keys of a half-printed block: %v, %v; want nil, nil", keys, err)
	}
	srv.AssertValid(t)
}

func TestParseHostKeys(t *testing.T) {
	for _, tc := range []struct {
		name, console string
		want          []string
		err           bool
	}{
		{"empty", "", nil, false},
		{"no block", "Linux version 6.1\ncloud-init finished\n", nil, false},
		{"cloud-init", cloudtest.CloudInitConsole([]string{ecdsaKey, ed25519Key}), []string{ecdsaKey, ed25519Key}, false},
		{"CRLF and ec2: prefix", "-----BEGIN SSH HOST KEY KEYS-----\r\nec2: " + ed25519Key + "\r\n-----END SSH HOST KEY KEYS-----\r\n", []string{ed25519Key}, false},
		{"kernel line inside", "-----BEGIN SSH HOST KEY KEYS-----\n[   12.1] random: crng init done\n" + ed25519Key + "\n-----END SSH HOST KEY KEYS-----\n", []string{ed25519Key}, false},
		{"last block wins (a reboot)", cloudtest.CloudInitConsole([]string{ecdsaKey}) + cloudtest.CloudInitConsole([]string{ed25519Key}), []string{ed25519Key}, false},
		{"end before begin", "-----END SSH HOST KEY KEYS-----\n-----BEGIN SSH HOST KEY KEYS-----\n" + ed25519Key, nil, false},
		{"block without keys", "-----BEGIN SSH HOST KEY KEYS-----\nnot a key\n-----END SSH HOST KEY KEYS-----\n", nil, true},
	} {
		got, err := ec2.ParseHostKeys(tc.console)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ParseHostKeys = %q, %v; want %q (error %v)", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestUserTagFilter(t *testing.T) {
	cloudtest.AWSTestEnv(t)
	srv := cloudtest.NewEC2(cloudtest.Options{})
	defer srv.Close()
	ctx := context.Background()
	p, err := ec2.New(ctx, ec2.Config{Region: "us-east-1", BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []cloud.Spec{
		{Name: "a", Size: "t3.micro", Image: "ami-0abcdef1234567890", Tags: []string{"role=web"}},
		{Name: "b", Size: "t3.micro", Image: "ami-0abcdef1234567890", Tags: []string{"role=db"}},
	} {
		if _, err := p.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	l, err := p.List(ctx, "role=web")
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 || l[0].Name != "a" || !l[0].HasTag("role=web") {
		t.Errorf("List(role=web) = %+v, want instance a", l)
	}
	// An AMI that does not exist is refused at once: a refused request
	// (400), not a missing instance.
	_, err = p.Create(ctx, cloud.Spec{Name: "c", Size: "t3.micro", Image: "ami-00000000"})
	var ae *cloud.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "InvalidAMIID.NotFound" || cloud.IsNotFound(err) || cloud.IsRetryable(err) {
		t.Errorf("create with an unknown AMI: %v", err)
	}
	srv.AssertValid(t)
}
