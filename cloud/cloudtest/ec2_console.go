package cloudtest

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// The console output of EC2 instances (GetConsoleOutput), where cloud-init
// prints the host keys it generated, and what RunInstances was asked for.

// SetEC2HostKeys replaces Options.HostKeys: the console output of the n-th
// instance created (from 0, also those created already) prints keys the way
// cloud-init does, once the instance has run. Keys are in authorized_keys format. Tests that
// configure the created hosts return the host keys of fleet hosts, so that
// provisioning pins the real key. s must be an EC2 fake.
func (s *Server) SetEC2HostKeys(keys func(n int) []string) {
	f := ec2Of(s)
	s.mu.Lock()
	defer s.mu.Unlock()
	f.hostKeys = keys
}

// SetConsoleOutput sets the console output of instance id as the API returns
// it once the instance has run (the fake encodes it in base64). s must be an
// EC2 fake; it reports whether the instance exists.
func (s *Server) SetConsoleOutput(id, output string) bool {
	f := ec2Of(s)
	s.mu.Lock()
	defer s.mu.Unlock()
	in := f.instances[id]
	if in != nil {
		in.console = output
	}
	return in != nil
}

// EC2Launch is what RunInstances asked for one instance.
type EC2Launch struct {
	ImageID, InstanceType, KeyName, SubnetID string
	SecurityGroupIDs                         []string
	UserData                                 string            // decoded
	Tags                                     map[string]string // key → value
}

// EC2Launch returns what RunInstances asked for instance id. s must be an
// EC2 fake.
func (s *Server) EC2Launch(id string) (EC2Launch, bool) {
	f := ec2Of(s)
	s.mu.Lock()
	defer s.mu.Unlock()
	in := f.instances[id]
	if in == nil {
		return EC2Launch{}, false
	}
	l := EC2Launch{ImageID: in.image, InstanceType: in.typ, KeyName: in.keyName, SubnetID: in.subnet,
		SecurityGroupIDs: append([]string(nil), in.groups...), UserData: in.userData, Tags: map[string]string{}}
	for _, t := range in.tags {
		l.Tags[t[0]] = t[1]
	}
	return l, true
}

// CloudInitConsole is a console output in which cloud-init printed keys, as
// on an EC2 instance booting a cloud image.
func CloudInitConsole(keys []string) string {
	var b strings.Builder
	b.WriteString("[    0.000000] Linux version 6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org)\n")
	b.WriteString("[    4.183301] cloud-init[512]: Cloud-init v. 22.4.2 running 'init' at Sun, 22 Nov 2026 03:00:04 +0000.\n")
	b.WriteString("<14>Nov 22 03:00:09 cloud-init: #############################################################\n")
	b.WriteString("<14>Nov 22 03:00:09 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----\n")
	b.WriteString("<14>Nov 22 03:00:09 cloud-init: 256 SHA256:1Yb5VQ5O2hKsW7xn6bZ9p3o6yA0OaC1E8mQb3YkqW0c root@web-0 (ED25519)\n")
	b.WriteString("<14>Nov 22 03:00:09 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----\n")
	b.WriteString("<14>Nov 22 03:00:09 cloud-init: #############################################################\n")
	b.WriteString("-----BEGIN SSH HOST KEY KEYS-----\n")
	for _, k := range keys {
		b.WriteString(k + "\n")
	}
	b.WriteString("-----END SSH HOST KEY KEYS-----\n")
	b.WriteString("[    9.912877] cloud-init[601]: Cloud-init v. 22.4.2 finished at Sun, 22 Nov 2026 03:00:09 +0000. Up 9.88 seconds\n")
	return b.String()
}

func (f *ec2Fake) consoleOutput(w http.ResponseWriter, r *http.Request) {
	id := r.PostForm.Get("InstanceId")
	in := f.instances[id]
	if in == nil {
		ec2Error(w, 400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id))
		return
	}
	res := consoleResponse{Xmlns: ec2Xmlns, RequestID: "r8", InstanceID: id, Timestamp: "2026-11-22T03:00:10.000Z"}
	// EC2 has no output for an instance that has not booted yet.
	if in.booted {
		out := in.console
		if out == "" && f.hostKeys != nil {
			out = CloudInitConsole(f.hostKeys(in.n))
		}
		if out == "" {
			out = "[    0.000000] Linux version 6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org)\n"
		}
		res.Output = base64.StdEncoding.EncodeToString([]byte(out))
	}
	writeXML(w, res)
}

type consoleResponse struct {
	XMLName    xml.Name `xml:"GetConsoleOutputResponse"`
	Xmlns      string   `xml:"xmlns,attr"`
	RequestID  string   `xml:"requestId"`
	InstanceID string   `xml:"instanceId"`
	Timestamp  string   `xml:"timestamp"`
	Output     string   `xml:"output,omitempty"`
}
