package ec2_test

import (
	"context"
	"testing"
	"time"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/ec2"
)

// fakeCredentials keeps the SDK's default chain off the developer's own
// configuration and off the instance metadata service.
func fakeCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestLifecycle(t *testing.T) {
	fakeCredentials(t)
	srv := cloudtest.NewEC2(cloudtest.Options{PollsUntilRunning: 2})
	defer srv.Close()
	p, err := ec2.New(context.Background(), ec2.Config{Region: "us-east-1", BaseURL: srv.URL,
		Backoff: cloud.Backoff{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	cloudtest.Lifecycle(t, p, srv, cloud.Spec{
		Name: "web", Size: "t3.micro", Image: "ami-0abcdef1234567890", KeyName: "ops",
		SubnetID: "subnet-0123456789abcdef0", SecurityGroupIDs: []string{"sg-0123456789abcdef0"},
		Tags: []string{"role=web"}, UserData: "#cloud-config\n",
	}, "t9.gigantic")
}

func TestUserTagFilter(t *testing.T) {
	fakeCredentials(t)
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
	// An AMI that does not exist is refused at once.
	_, err = p.Create(ctx, cloud.Spec{Name: "c", Size: "t3.micro", Image: "ami-00000000"})
	if !cloud.IsNotFound(err) || cloud.IsRetryable(err) {
		t.Errorf("create with an unknown AMI: %v", err)
	}
	srv.AssertValid(t)
}
