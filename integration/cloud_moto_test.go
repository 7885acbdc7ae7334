package integration

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/ec2"
	dconfig "github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/provision"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

// The EC2 provider against moto, an independent implementation of the EC2
// API (Debian's python3-moto, run as `moto_server` on loopback) with AMI,
// instance-type and key-pair validation on: the whole provisioning flow as
// `drover apply` runs it (engine/provision with the SDK providers), dynamic
// inventory, resize, refused requests, destroy, and instances drover does
// not own left alone. Every request moto rejects must be one of the
// deliberate negative ones.
//
// moto_server is found at $DROVER_MOTO or on PATH. Without it the test
// skips, unless DROVER_REQUIRE_CLOUD_MOCKS=1, when it fails.
func TestCloudEC2AgainstMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a mock server; skipped in -short mode")
	}
	bin := findMock(t, "DROVER_MOTO", "moto_server", "the moto server", "apt-get install python3-moto from trixie, see .ci/run; or set DROVER_MOTO")
	// The SDK's default chain, as drover uses it, with dummy credentials
	// and nothing from the developer's own configuration.
	cloudtest.AWSTestEnv(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := startMoto(t, ctx, bin)
	const region = "us-east-1"
	const ami = "ami-785db401" // one of moto's default AMIs (Ubuntu 16.04)
	sdk := awsec2.New(awsec2.Options{Region: region, BaseEndpoint: aws.String(m.url),
		Credentials: credentials.NewStaticCredentialsProvider(cloudtest.AWSAccessKeyID, cloudtest.AWSSecretAccessKey, "")})

	// What an operator has set up beforehand: a key pair, a subnet, a
	// security group; and instances drover does not own, one with the same
	// name as a drover instance, one with the same user tag.
	if _, err := sdk.ImportKeyPair(ctx, &awsec2.ImportKeyPairInput{KeyName: aws.String("ops"),
		PublicKeyMaterial: []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0bQ2eXl2bRrQkKpy5v0u2pZ8k6mD4i2Jg7yY0xqNp ops")}); err != nil {
		t.Fatal(err)
	}
	subnets, err := sdk.DescribeSubnets(ctx, &awsec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}}})
	if err != nil || len(subnets.Subnets) == 0 {
		t.Fatalf("default subnets: %v, %v", subnets, err)
	}
	subnet := subnets.Subnets[0]
	sg, err := sdk.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String("drover-ci"), Description: aws.String("drover CI"), VpcId: subnet.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	var foreign []string
	for _, tags := range [][]types.Tag{
		{{Key: aws.String("Name"), Value: aws.String("web-0")}},
		{{Key: aws.String("Name"), Value: aws.String("legacy")}, {Key: aws.String("role"), Value: aws.String("web")}},
	} {
		out, err := sdk.RunInstances(ctx, &awsec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: tags}}})
		if err != nil {
			t.Fatal(err)
		}
		foreign = append(foreign, aws.ToString(out.Instances[0].InstanceId))
	}

	// The playbook, loaded and evaluated as `drover apply` does.
	dir := t.TempDir()
	site := filepath.Join(dir, "site.hcl")
	if err := os.WriteFile(site, []byte(`
variable "size" { default = "t3.micro" }
variable "ami" { default = "`+ami+`" }
variable "stack" { default = "ci" }
variable "n" {
  type    = number
  default = 3
}
provision "aws_instance" "web" {
  count              = var.n
  stack              = var.stack
  name               = "web-${count.index}"
  region             = "`+region+`"
  instance_type      = var.size
  ami                = var.ami
  key_name           = "ops"
  subnet_id          = "`+aws.ToString(subnet.SubnetId)+`"
  security_group_ids = ["`+aws.ToString(sg.GroupId)+`"]
  tags               = ["role=web"]
  user_data          = "#cloud-config\npackages: [nginx]\n"
  groups             = ["web"]
  endpoint           = "`+m.url+`"
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// load takes -var flags ("size=t3.small").
	load := func(flags ...string) []*provision.Resource {
		t.Helper()
		parser := hclparse.NewParser()
		pb, diags := dconfig.LoadFiles(parser, modules.Catalog(), site)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		in, diags := run.ParseInputs(parser, pb, nil, nil, flags)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		vars, locals, diags := run.Globals(pb, in)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		rs, diags := provision.Evaluate(pb, vars, locals)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return rs
	}
	providers := provision.SDKProviders()
	opts := provision.ApplyOptions{Poll: 50 * time.Millisecond, Timeout: time.Minute,
		// moto's console output has no cloud-init block: the keys are
		// trusted on first use after this wait.
		HostKeyWait: 300 * time.Millisecond,
		// moto's instances run nowhere: nothing answers SSH.
		WaitSSH: func(context.Context, string, int) (provision.HostKey, error) { return provision.HostKey{}, nil },
	}
	plan := func(rs []*provision.Resource) *provision.Plan {
		t.Helper()
		p, err := provision.MakePlan(ctx, rs, providers)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	rs := load()
	owner := rs[0].Owner

	// Apply: three instances created, running, with everything the block says.
	p := plan(rs)
	if c := p.Counts(); c[provision.Create] != 3 || len(c) != 1 {
		t.Fatalf("first plan: %v", p.Describe())
	}
	res, err := provision.Apply(ctx, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 3 || len(res.Hosts) != 3 {
		t.Fatalf("apply created %d and handed on %d hosts, want 3 and 3", len(res.Created), len(res.Hosts))
	}
	var ids []string
	for i, h := range res.Hosts {
		if h.Instance.Name != fmt.Sprintf("web-%d", i) || h.Instance.Status != cloud.StatusRunning || h.Address == "" || !h.Created {
			t.Errorf("host %d: %+v", i, h)
		}
		ids = append(ids, h.Instance.ID)
	}
	d, err := sdk.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range d.Reservations {
		for _, in := range r.Instances {
			id := aws.ToString(in.InstanceId)
			var groups []string
			for _, g := range in.SecurityGroups {
				groups = append(groups, aws.ToString(g.GroupId))
			}
			tags := map[string]string{}
			for _, tg := range in.Tags {
				tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			if aws.ToString(in.KeyName) != "ops" || aws.ToString(in.SubnetId) != aws.ToString(subnet.SubnetId) ||
				!slices.Equal(groups, []string{aws.ToString(sg.GroupId)}) || in.InstanceType != types.InstanceTypeT3Micro ||
				aws.ToString(in.ImageId) != ami || tags["role"] != "web" || !hasKey(tags, owner) || !strings.HasPrefix(tags["Name"], "web-") {
				t.Errorf("instance %s: key %q, subnet %q, groups %v, type %s, image %s, tags %v", id, aws.ToString(in.KeyName),
					aws.ToString(in.SubnetId), groups, in.InstanceType, aws.ToString(in.ImageId), tags)
			}
			ud, err := sdk.DescribeInstanceAttribute(ctx, &awsec2.DescribeInstanceAttributeInput{InstanceId: in.InstanceId, Attribute: types.InstanceAttributeNameUserData})
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := base64.StdEncoding.DecodeString(aws.ToString(ud.UserData.Value)); string(b) != "#cloud-config\npackages: [nginx]\n" {
				t.Errorf("instance %s: user data %q", id, b)
			}
		}
	}

	// Dynamic inventory: a source block lists exactly the three.
	invFile := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(invFile, []byte(fmt.Sprintf("source \"ec2\" {\n  tag = %q\n  endpoint = %q\n  region = %q\n  groups = [\"web\"]\n}\n", owner, m.url, region)), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, diags := inventory.Load([]string{invFile}, inventory.LoadOptions{SSHConfigPath: "none"})
	if diags.HasErrors() || len(inv.Sources()) != 1 {
		t.Fatalf("inventory: %v, %+v", diags, inv.Sources())
	}
	src := inv.Sources()[0]
	ep, err := ec2.New(ctx, ec2.Config{BaseURL: src.Endpoint, Region: src.Region, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	names := func(tag string) []string {
		t.Helper()
		l, err := ep.List(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, in := range l {
			out = append(out, in.Name)
		}
		return out
	}
	if got := names(src.Tag); !slices.Equal(got, []string{"web-0", "web-1", "web-2"}) {
		t.Errorf("source tag %s lists %v, want web-0, web-1, web-2", src.Tag, got)
	}
	if got := names("role=web"); !slices.Equal(got, []string{"legacy", "web-0", "web-1", "web-2"}) {
		t.Errorf("tag role=web lists %v", got)
	}
	// moto's console output has no host key block: nil, nil.
	if keys, err := ep.HostKeys(ctx, ids[0]); keys != nil || err != nil {
		t.Errorf("host keys from moto's console output: %v, %v; want nil, nil", keys, err)
	}

	// Re-apply: nothing changes.
	p = plan(rs)
	if p.Changed() || p.Counts()[provision.Keep] != 3 {
		t.Errorf("second plan: %v", p.Describe())
	}
	if res, err := provision.Apply(ctx, p, opts); err != nil || len(res.Created) != 0 || len(res.Hosts) != 3 {
		t.Errorf("re-apply: %v, created %d", err, len(res.Created))
	}

	// Resize one instance: stop, change the type, start.
	in, err := ep.Resize(ctx, ids[1], "t3.small")
	if err != nil {
		t.Fatal(err)
	}
	if in.Size != "t3.small" || in.Status != cloud.StatusRunning {
		t.Errorf("resized: %+v", in)
	}
	if d, err := sdk.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: ids[1:2]}); err != nil ||
		d.Reservations[0].Instances[0].InstanceType != types.InstanceTypeT3Small {
		t.Errorf("moto after the resize: %+v, %v", d, err)
	}
	// The playbook says t3.micro: the plan resizes it back.
	p = plan(rs)
	if c := p.Counts(); c[provision.Resize] != 1 || c[provision.Keep] != 2 {
		t.Errorf("plan after a resize: %v", p.Describe())
	}
	if _, err := provision.Apply(ctx, p, opts); err != nil {
		t.Fatal(err)
	}
	if p = plan(rs); p.Changed() {
		t.Errorf("plan after the resize back: %v", p.Describe())
	}

	// Refused requests fail at once, with moto's message; each is exactly
	// one rejected request (no retry).
	negative := func(what, want string, fn func() error) {
		t.Helper()
		before := len(m.rejected())
		err := fn()
		t.Logf("%s: %v", what, err)
		var ae *cloud.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want moto's 400 saying %q", what, err, want)
		}
		if n := len(m.waitRejected(before + 1)); n != before+1 {
			t.Errorf("%s: moto rejected %d requests, want 1", what, n-before)
		}
	}
	negative("resize to an unknown type", "t9.gigantic", func() error {
		_, err := ep.Resize(ctx, ids[1], "t9.gigantic")
		return err
	})
	if in, err := ep.Get(ctx, ids[1]); err != nil || in.Status != cloud.StatusRunning || in.Size != "t3.micro" {
		t.Errorf("after a refused resize: %+v, %v", in, err)
	}
	bad := func(size, image string) func() error {
		return func() error {
			rs := load("size="+size, "ami="+image, "stack=ci-bad", "n=1")
			_, err := provision.Apply(ctx, plan(rs), opts)
			if err != nil && !strings.Contains(err.Error(), "site.hcl:9") {
				t.Errorf("the error does not name the block: %v", err)
			}
			return err
		}
	}
	negative("create with an unknown instance type", "The instance type 't9.gigantic' does not exist", bad("t9.gigantic", ami))
	negative("create with an unknown AMI", "ami-0123456789abcdef0", bad("t3.micro", "ami-0123456789abcdef0"))

	// Destroy: exactly what drover owns.
	gone, err := provision.DestroyAll(ctx, rs, providers)
	if err != nil || len(gone) != 3 {
		t.Fatalf("destroy: %v, %d instances", err, len(gone))
	}
	if got := names(owner); len(got) != 0 {
		t.Errorf("after destroy, tag %s lists %v", owner, got)
	}
	for _, id := range foreign {
		if in, err := ep.Get(ctx, id); err != nil || in.Status != cloud.StatusRunning {
			t.Errorf("instance %s that drover does not own: %+v, %v", id, in, err)
		}
	}
	if got := names("role=web"); !slices.Equal(got, []string{"legacy"}) {
		t.Errorf("after destroy, tag role=web lists %v", got)
	}

	// Only the deliberate negative requests were rejected.
	if r := m.rejected(); len(r) != 3 {
		t.Errorf("moto rejected %d requests, want the 3 deliberate ones:\n%s", len(r), strings.Join(r, "\n"))
	}
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

type motoServer struct {
	url string
	mu  sync.Mutex
	log []string
}

// moto_server logs each request as werkzeug does:
// 127.0.0.1 - - [22/Nov/2026 05:30:00] "POST / HTTP/1.1" 400 -
var motoStatus = regexp.MustCompile(`"[A-Z]+ \S+ HTTP/[\d.]+" (\d{3}) `)

// rejected returns the log lines of requests moto answered with 4xx or 5xx.
func (m *motoServer) rejected() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, l := range m.log {
		if s := motoStatus.FindStringSubmatch(l); s != nil && s[1] >= "400" {
			out = append(out, l)
		}
	}
	return out
}

// waitRejected waits a little for n rejections to be logged (the log is
// read asynchronously) and returns them.
func (m *motoServer) waitRejected(n int) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := m.rejected()
		if len(r) >= n || time.Now().After(deadline) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startMoto runs moto_server on a free loopback port with EC2's validations
// on, and waits until it answers.
func startMoto(t *testing.T, ctx context.Context, bin string) *motoServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.CommandContext(ctx, bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	// Not the test's dummy AWS_* settings: botocore in moto reads them too.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env,
		"MOTO_ENABLE_AMI_VALIDATION=true",
		"MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true",
		"MOTO_ENABLE_KEYPAIR_VALIDATION=true",
		"PYTHONUNBUFFERED=1")
	cmd.Dir = t.TempDir()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	m := &motoServer{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m.mu.Lock()
			m.log = append(m.log, sc.Text())
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			m.mu.Lock()
			t.Logf("moto's log:\n%s", strings.Join(m.log, "\n"))
			m.mu.Unlock()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return m
		}
		if time.Now().After(deadline) {
			m.mu.Lock()
			defer m.mu.Unlock()
			t.Fatalf("moto_server did not listen on port %d in 60 s:\n%s", port, strings.Join(m.log, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
