// Package ec2 provisions EC2 instances with aws-sdk-go-v2, the official SDK.
//
// drover's tags are strings; on EC2 "k=v" is the tag with key k and value v,
// and a tag without '=' (like the ownership tag "drover:stack:web") is a key
// with an empty value. The Name tag carries the instance's name.
package ec2

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"golang.org/x/crypto/ssh"

	"github.com/drover-cm/drover/cloud"
)

// Config configures the client. Credentials come from the SDK's default
// chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and
// ~/.aws/credentials, SSO, the instance role).
type Config struct {
	// Region; "" takes the SDK's (AWS_REGION, the profile).
	Region string
	// BaseURL is the EC2 endpoint; "" is the region's.
	BaseURL string
	// Backoff for throttling and transient errors; zero is cloud.DefaultBackoff.
	Backoff cloud.Backoff
	// Poll is the pause between reads of an instance's state while Resize
	// waits for it to stop and run again; zero is 3 s.
	Poll time.Duration
}

// Provider is the EC2 cloud.Provider, cloud.Resizer and cloud.HostKeyReader.
type Provider struct {
	c      *ec2.Client
	bo     cloud.Backoff
	poll   time.Duration
	region string
}

// New returns a provider.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	ac, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("ec2: loading the AWS configuration: %w", err)
	}
	if ac.Region == "" {
		return nil, errors.New("ec2: no region: set AWS_REGION or give region")
	}
	c := ec2.NewFromConfig(ac, func(o *ec2.Options) {
		if cfg.BaseURL != "" {
			o.BaseEndpoint = aws.String(cfg.BaseURL)
		}
		// drover retries (cloud.Retry) so that every provider behaves alike.
		o.Retryer = aws.NopRetryer{}
	})
	bo := cfg.Backoff
	if bo.Attempts == 0 {
		bo = cloud.DefaultBackoff
	}
	poll := cfg.Poll
	if poll == 0 {
		poll = 3 * time.Second
	}
	return &Provider{c: c, bo: bo, poll: poll, region: ac.Region}, nil
}

// Name implements cloud.Provider.
func (p *Provider) Name() string { return "ec2" }

// apiErr maps EC2's errors onto HTTP-like statuses: an unknown instance
// (InvalidInstanceID.NotFound) is 404 and throttling is 429, whatever status
// EC2 answered with. Other *.NotFound codes (an unknown AMI, instance type,
// subnet, key pair) stay what EC2 says they are: 400, a refused request.
func apiErr(op string, err error) error {
	if err == nil {
		return nil
	}
	ae := &cloud.APIError{Provider: "ec2", Op: op}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		ae.Status = re.HTTPStatusCode()
	}
	var se smithy.APIError
	if errors.As(err, &se) {
		ae.Code, ae.Message = se.ErrorCode(), se.ErrorMessage()
		switch {
		case ae.Code == "InvalidInstanceID.NotFound":
			ae.Status = 404
		case ae.Code == "RequestLimitExceeded" || ae.Code == "Throttling" || ae.Code == "ThrottlingException":
			ae.Status = 429
		}
	}
	if ae.Status == 0 {
		return fmt.Errorf("ec2: %s: %w", op, err)
	}
	return ae
}

func tags(name string, ts []string) []types.Tag {
	out := []types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}
	for _, t := range ts {
		k, v, _ := strings.Cut(t, "=")
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

// Create implements cloud.Provider.
func (p *Provider) Create(ctx context.Context, s cloud.Spec) (cloud.Instance, error) {
	in := &ec2.RunInstancesInput{
		ImageId:      aws.String(s.Image),
		InstanceType: types.InstanceType(s.Size),
		MinCount:     aws.Int32(1),
		MaxCount:     aws.Int32(1),
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: tags(s.Name, s.Tags)},
		},
	}
	if s.KeyName != "" {
		in.KeyName = aws.String(s.KeyName)
	}
	if s.SubnetID != "" {
		in.SubnetId = aws.String(s.SubnetID)
	}
	if len(s.SecurityGroupIDs) > 0 {
		in.SecurityGroupIds = s.SecurityGroupIDs
	}
	if s.UserData != "" {
		in.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(s.UserData)))
	}
	var out *ec2.RunInstancesOutput
	err := cloud.Retry(ctx, p.bo, func() error {
		var err error
		out, err = p.c.RunInstances(ctx, in)
		return apiErr("run instance "+s.Name, err)
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	if len(out.Instances) != 1 {
		return cloud.Instance{}, fmt.Errorf("ec2: run instance %s: got %d instances, want 1", s.Name, len(out.Instances))
	}
	return instance(&out.Instances[0]), nil
}

func (p *Provider) describe(ctx context.Context, op string, in *ec2.DescribeInstancesInput) ([]cloud.Instance, error) {
	var all []cloud.Instance
	pg := ec2.NewDescribeInstancesPaginator(p.c, in)
	for pg.HasMorePages() {
		var out *ec2.DescribeInstancesOutput
		err := cloud.Retry(ctx, p.bo, func() error {
			var err error
			out, err = pg.NextPage(ctx)
			return apiErr(op, err)
		})
		if err != nil {
			return nil, err
		}
		for _, r := range out.Reservations {
			for i := range r.Instances {
				all = append(all, instance(&r.Instances[i]))
			}
		}
	}
	return all, nil
}

// Get implements cloud.Provider. A terminated instance is not found.
func (p *Provider) Get(ctx context.Context, id string) (cloud.Instance, error) {
	l, err := p.describe(ctx, "describe instance "+id, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return cloud.Instance{}, err
	}
	if len(l) != 1 || l[0].Status == "terminated" || l[0].Status == "shutting-down" {
		return cloud.Instance{}, &cloud.APIError{Provider: "ec2", Op: "describe instance " + id, Status: 404, Code: "InvalidInstanceID.NotFound", Message: "the instance is terminated"}
	}
	return l[0], nil
}

// List implements cloud.Provider. Terminated instances are left out.
func (p *Provider) List(ctx context.Context, tag string) ([]cloud.Instance, error) {
	in := &ec2.DescribeInstancesInput{Filters: []types.Filter{{
		Name:   aws.String("instance-state-name"),
		Values: []string{"pending", "running", "stopping", "stopped"},
	}}}
	if tag != "" {
		if k, v, ok := strings.Cut(tag, "="); ok {
			in.Filters = append(in.Filters, types.Filter{Name: aws.String("tag:" + k), Values: []string{v}})
		} else {
			in.Filters = append(in.Filters, types.Filter{Name: aws.String("tag-key"), Values: []string{tag}})
		}
	}
	l, err := p.describe(ctx, "describe instances", in)
	if err != nil {
		return nil, err
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].Name != l[j].Name {
			return l[i].Name < l[j].Name
		}
		return l[i].ID < l[j].ID
	})
	return l, nil
}

// Delete implements cloud.Provider.
func (p *Provider) Delete(ctx context.Context, id string) error {
	err := cloud.Retry(ctx, p.bo, func() error {
		_, err := p.c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
		return apiErr("terminate instance "+id, err)
	})
	if cloud.IsNotFound(err) {
		return nil
	}
	return err
}

func instance(i *types.Instance) cloud.Instance {
	in := cloud.Instance{
		ID: aws.ToString(i.InstanceId), Size: string(i.InstanceType), Image: aws.ToString(i.ImageId),
		PublicIPv4: aws.ToString(i.PublicIpAddress), PrivateIPv4: aws.ToString(i.PrivateIpAddress),
	}
	if i.Placement != nil {
		in.Region = aws.ToString(i.Placement.AvailabilityZone)
	}
	if i.State != nil {
		switch i.State.Name {
		case types.InstanceStateNamePending:
			in.Status = cloud.StatusPending
		case types.InstanceStateNameRunning:
			in.Status = cloud.StatusRunning
		case types.InstanceStateNameStopped:
			in.Status = cloud.StatusStopped
		default:
			in.Status = string(i.State.Name)
		}
	}
	for _, t := range i.Tags {
		k, v := aws.ToString(t.Key), aws.ToString(t.Value)
		switch {
		case k == "Name":
			in.Name = v
		case v == "":
			in.Tags = append(in.Tags, k)
		default:
			in.Tags = append(in.Tags, k+"="+v)
		}
	}
	return in
}

// Resize implements cloud.Resizer the way EC2 requires: the instance type
// of a stopped instance is changed, so the instance is stopped, modified and
// started again, each state waited for. Its public address usually changes
// (unless it is an Elastic IP). The type is checked first
// (DescribeInstanceTypes), so an unknown type is refused without downtime;
// when EC2 refuses the change itself (say, a type the AMI's architecture
// cannot run), the instance is started again before the error is returned.
func (p *Provider) Resize(ctx context.Context, id, size string) (cloud.Instance, error) {
	in, err := p.Get(ctx, id)
	if err != nil {
		return in, err
	}
	if in.Size == size && in.Status == cloud.StatusRunning {
		return in, nil
	}
	err = cloud.Retry(ctx, p.bo, func() error {
		_, err := p.c.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{types.InstanceType(size)}})
		return apiErr("resize instance "+id+" to "+size, err)
	})
	if err != nil {
		return in, err
	}
	if in.Status != cloud.StatusStopped {
		if in, err = p.stop(ctx, id); err != nil {
			return in, err
		}
	}
	rerr := cloud.Retry(ctx, p.bo, func() error {
		_, err := p.c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
			InstanceId: aws.String(id), InstanceType: &types.AttributeValue{Value: aws.String(size)}})
		return apiErr("resize instance "+id+" to "+size, err)
	})
	if rerr != nil {
		in, err = p.start(ctx, id, "")
		return in, errors.Join(rerr, err)
	}
	return p.start(ctx, id, size)
}

// stop stops the instance and waits until EC2 reports it stopped.
func (p *Provider) stop(ctx context.Context, id string) (cloud.Instance, error) {
	err := cloud.Retry(ctx, p.bo, func() error {
		_, err := p.c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
		return apiErr("stop instance "+id, err)
	})
	if err != nil {
		return cloud.Instance{ID: id}, err
	}
	in, err := cloud.Poll(ctx, p.poll, func() (cloud.Instance, error) { return p.Get(ctx, id) },
		func(in cloud.Instance) bool { return in.Status == cloud.StatusStopped })
	if err != nil {
		return in, fmt.Errorf("ec2: waiting for instance %s to stop: %w", id, err)
	}
	return in, nil
}

// start starts the instance and waits until EC2 reports it running; with
// size != "", running with that type.
func (p *Provider) start(ctx context.Context, id, size string) (cloud.Instance, error) {
	err := cloud.Retry(ctx, p.bo, func() error {
		_, err := p.c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
		return apiErr("start instance "+id, err)
	})
	if err != nil {
		return cloud.Instance{ID: id}, fmt.Errorf("%w; the instance is stopped: start it in the console or with `aws ec2 start-instances --instance-ids %s`", err, id)
	}
	in, err := cloud.Poll(ctx, p.poll, func() (cloud.Instance, error) { return p.Get(ctx, id) },
		func(in cloud.Instance) bool {
			return in.Status == cloud.StatusRunning && (size == "" || in.Size == size)
		})
	if err != nil {
		return in, fmt.Errorf("ec2: waiting for instance %s to run: %w", id, err)
	}
	return in, nil
}

// HostKeys implements cloud.HostKeyReader with the instance's console
// output, where cloud-init prints the host keys it generated between
// "-----BEGIN SSH HOST KEY KEYS-----" and "-----END SSH HOST KEY KEYS-----".
// EC2 makes the output available some minutes after boot, so HostKeys
// returns nil, nil until the block is complete.
func (p *Provider) HostKeys(ctx context.Context, id string) ([]string, error) {
	var out *ec2.GetConsoleOutputOutput
	err := cloud.Retry(ctx, p.bo, func() error {
		var err error
		out, err = p.c.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id)})
		return apiErr("read the console output of instance "+id, err)
	})
	if err != nil || aws.ToString(out.Output) == "" {
		return nil, err
	}
	text, err := base64.StdEncoding.DecodeString(aws.ToString(out.Output))
	if err != nil {
		return nil, fmt.Errorf("ec2: the console output of instance %s is not base64: %w", id, err)
	}
	keys, err := ParseHostKeys(string(text))
	if err != nil {
		return nil, fmt.Errorf("ec2: the console output of instance %s: %w", id, err)
	}
	return keys, nil
}

const (
	beginKeys = "-----BEGIN SSH HOST KEY KEYS-----"
	endKeys   = "-----END SSH HOST KEY KEYS-----"
)

// ParseHostKeys returns the host keys in the last complete block cloud-init
// printed to a console: nil when there is none (yet). Lines of the block that
// are not public keys (a kernel message written over the console) are
// skipped; a block without any key is an error.
func ParseHostKeys(console string) ([]string, error) {
	end := strings.LastIndex(console, endKeys)
	if end < 0 {
		return nil, nil
	}
	begin := strings.LastIndex(console[:end], beginKeys)
	if begin < 0 {
		return nil, nil
	}
	var keys []string
	for _, line := range strings.Split(console[begin+len(beginKeys):end], "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "ec2:"))
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil {
			keys = append(keys, line)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("cloud-init's host key block holds no public key")
	}
	return keys, nil
}
