package cloudtest

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// There is no official OpenAPI spec of EC2 here (its models are Smithy
// JSON); the fake checks what the EC2 Query API documents: the version, a
// SigV4 Authorization header, the parameters each action takes and requires,
// AMI and instance-type validity (like moto with MOTO_ENABLE_AMI_VALIDATION).
// moto is the real peer, in integration tests. Stop, start and type changes
// (ec2_resize.go) and the console output (ec2_console.go) follow EC2's rules.

const ec2Version = "2016-11-15"

var (
	ec2AMIs  = []string{"ami-0abcdef1234567890", "ami-03cf127a"}
	ec2Types = []string{"t2.micro", "t3.micro", "t3.small", "m5.large", "t4g.micro"} // t4g: arm64, the AMIs are x86_64
	ec2Auth  = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=[^/]+/\d{8}/[a-z0-9-]+/ec2/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`)
	// Parameters each action accepts, as regexps over the flattened names.
	ec2Params = map[string]*regexp.Regexp{
		"RunInstances": regexp.MustCompile(`^(ImageId|InstanceType|MinCount|MaxCount|KeyName|SubnetId|UserData|ClientToken|` +
			`SecurityGroupId\.\d+|TagSpecification\.\d+\.(ResourceType|Tag\.\d+\.(Key|Value)))$`),
		"DescribeInstances":       regexp.MustCompile(`^(InstanceId\.\d+|Filter\.\d+\.(Name|Value\.\d+)|MaxResults|NextToken)$`),
		"TerminateInstances":      regexp.MustCompile(`^InstanceId\.\d+$`),
		"StopInstances":           regexp.MustCompile(`^(InstanceId\.\d+|Force|Hibernate)$`),
		"StartInstances":          regexp.MustCompile(`^InstanceId\.\d+$`),
		"ModifyInstanceAttribute": regexp.MustCompile(`^(InstanceId|InstanceType\.Value)$`),
		"DescribeInstanceTypes":   regexp.MustCompile(`^(InstanceType\.\d+|MaxResults|NextToken)$`),
		"GetConsoleOutput":        regexp.MustCompile(`^(InstanceId|Latest)$`),
	}
	ec2Required = map[string][]string{
		"RunInstances":            {"ImageId", "MinCount", "MaxCount"},
		"TerminateInstances":      {"InstanceId.1"},
		"StopInstances":           {"InstanceId.1"},
		"StartInstances":          {"InstanceId.1"},
		"ModifyInstanceAttribute": {"InstanceId"},
		"GetConsoleOutput":        {"InstanceId"},
	}
)

type ec2Instance struct {
	n                      int // creation order, from 0
	id, image, typ, subnet string
	keyName, userData      string
	groups                 []string
	tags                   [][2]string
	state                  string
	polls                  int // reads until the state after pending or stopping
	addr, private          string
	booted                 bool   // has run once: the console has output
	console                string // set by SetConsoleOutput; "" is the default boot log
}

type ec2Fake struct {
	srv       *Server
	opts      Options
	instances map[string]*ec2Instance
	order     []string
	next      int
	hostKeys  func(n int) []string // Options.HostKeys, or SetEC2HostKeys

	vmu        sync.Mutex
	violations []string
}

// NewEC2 starts a fake EC2 Query API. Point the SDK's BaseEndpoint at it.
func NewEC2(opts Options) *Server {
	f := &ec2Fake{opts: opts, instances: map[string]*ec2Instance{}, next: 0x0a1b2c3d, hostKeys: opts.HostKeys}
	s := &Server{}
	f.srv = s
	s.v = &validating{} // violations only: no spec to route by
	s.Server = httptest.NewServer(f)
	return s
}

// ec2Of returns the EC2 fake behind s; it panics when s is another fake.
func ec2Of(s *Server) *ec2Fake {
	f, ok := s.Config.Handler.(*ec2Fake)
	if !ok {
		panic("cloudtest: not an EC2 fake (use NewEC2)")
	}
	return f
}

type ec2Err struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	xml.NewEncoder(w).Encode(ec2Err{Code: code, Message: msg, RequestID: "59dbff89-35bd-4eac-99ed-be587EXAMPLE"})
}

func (f *ec2Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if fail, ok := f.srv.takeFailure(); ok {
		if fail.status == 429 {
			ec2Error(w, 503, "RequestLimitExceeded", "Request limit exceeded.")
		} else {
			ec2Error(w, fail.status, "InternalError", "An internal error has occurred.")
		}
		return
	}
	if r.Method != "POST" || r.URL.Path != "/" {
		f.violate(w, "%s %s: EC2 takes POST /", r.Method, r.URL.Path)
		return
	}
	if err := r.ParseForm(); err != nil {
		f.violate(w, "unparsable form: %v", err)
		return
	}
	form := r.PostForm
	action := form.Get("Action")
	allowed := ec2Params[action]
	switch {
	case allowed == nil:
		f.violate(w, "unknown action %q", action)
		return
	case form.Get("Version") != ec2Version:
		f.violate(w, "%s: Version %q, want %s", action, form.Get("Version"), ec2Version)
		return
	case !ec2Auth.MatchString(r.Header.Get("Authorization")) || r.Header.Get("X-Amz-Date") == "":
		f.violate(w, "%s: no SigV4 signature (Authorization %q)", action, r.Header.Get("Authorization"))
		return
	}
	for k := range form {
		if k != "Action" && k != "Version" && !allowed.MatchString(k) {
			f.violate(w, "%s: unknown parameter %s", action, k)
			return
		}
	}
	for _, k := range ec2Required[action] {
		if form.Get(k) == "" {
			f.violate(w, "%s: missing required parameter %s", action, k)
			return
		}
	}
	f.srv.mu.Lock()
	defer f.srv.mu.Unlock()
	switch action {
	case "RunInstances":
		f.run(w, r)
	case "DescribeInstances":
		f.describe(w, r)
	case "TerminateInstances":
		f.terminate(w, r)
	case "StopInstances":
		f.stop(w, r)
	case "StartInstances":
		f.start(w, r)
	case "ModifyInstanceAttribute":
		f.modify(w, r)
	case "DescribeInstanceTypes":
		f.describeTypes(w, r)
	case "GetConsoleOutput":
		f.consoleOutput(w, r)
	}
}

// violate records a request the EC2 API would not accept for its form, and
// answers it like EC2 does.
func (f *ec2Fake) violate(w http.ResponseWriter, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.srv.v.violate("%s", msg)
	ec2Error(w, 400, "InvalidParameterValue", msg)
}

func indexed(form map[string][]string, prefix, suffix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[prefix+strconv.Itoa(i)+suffix]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func (f *ec2Fake) run(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	image, typ := form.Get("ImageId"), form.Get("InstanceType")
	if typ == "" {
		typ = "m1.small"
	}
	if !hasString(ec2AMIs, image) {
		ec2Error(w, 400, "InvalidAMIID.NotFound", fmt.Sprintf("The image id '[%s]' does not exist", image))
		return
	}
	if !hasString(ec2Types, typ) {
		ec2Error(w, 400, "InvalidParameterValue", fmt.Sprintf("Value (%s) for parameter instanceType is invalid. Invalid instance type.", typ))
		return
	}
	if form.Get("MinCount") != "1" || form.Get("MaxCount") != "1" {
		ec2Error(w, 400, "InvalidParameterValue", "the fake runs one instance per request")
		return
	}
	userData, err := base64.StdEncoding.DecodeString(form.Get("UserData"))
	if err != nil {
		f.violate(w, "RunInstances: UserData is not base64: %v", err)
		return
	}
	in := &ec2Instance{
		n: f.srv.creates, id: fmt.Sprintf("i-%017x", f.next), image: image, typ: typ, subnet: form.Get("SubnetId"),
		keyName: form.Get("KeyName"), userData: string(userData), groups: indexed(form, "SecurityGroupId.", ""),
		state: "pending", polls: f.opts.polls(), addr: f.opts.address(f.srv.creates),
		private: fmt.Sprintf("172.31.0.%d", f.srv.creates+10),
	}
	for s := 1; form.Get(fmt.Sprintf("TagSpecification.%d.ResourceType", s)) != ""; s++ {
		if rt := form.Get(fmt.Sprintf("TagSpecification.%d.ResourceType", s)); rt != "instance" {
			continue
		}
		p := fmt.Sprintf("TagSpecification.%d.Tag.", s)
		keys, values := indexed(form, p, ".Key"), indexed(form, p, ".Value")
		for i, k := range keys {
			v := ""
			if i < len(values) {
				v = values[i]
			}
			in.tags = append(in.tags, [2]string{k, v})
		}
	}
	f.next++
	f.srv.creates++
	f.instances[in.id] = in
	f.order = append(f.order, in.id)
	writeXML(w, runResponse{Xmlns: ec2Xmlns, RequestID: "r1", ReservationID: "r-" + in.id[2:], OwnerID: "123456789012",
		Instances: []ec2InstanceXML{f.xml(in, true)}})
}

func (f *ec2Fake) describe(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	ids := indexed(form, "InstanceId.", "")
	for _, id := range ids {
		if f.instances[id] == nil {
			ec2Error(w, 400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id))
			return
		}
	}
	type filter struct {
		name   string
		values []string
	}
	var filters []filter
	for i := 1; form.Get(fmt.Sprintf("Filter.%d.Name", i)) != ""; i++ {
		filters = append(filters, filter{form.Get(fmt.Sprintf("Filter.%d.Name", i)), indexed(form, fmt.Sprintf("Filter.%d.Value.", i), "")})
	}
	res := describeResponse{Xmlns: ec2Xmlns, RequestID: "r2"}
	for _, id := range f.order {
		in := f.instances[id]
		if len(ids) > 0 && !hasString(ids, id) {
			continue
		}
		if len(ids) > 0 && in.polls > 0 {
			in.polls--
			if in.polls == 0 {
				in.settle()
			}
		}
		ok := true
		for _, fl := range filters {
			switch {
			case fl.name == "instance-state-name":
				ok = ok && hasString(fl.values, in.state)
			case fl.name == "tag-key":
				ok = ok && slicesAny(in.tags, func(t [2]string) bool { return hasString(fl.values, t[0]) })
			case strings.HasPrefix(fl.name, "tag:"):
				k := strings.TrimPrefix(fl.name, "tag:")
				ok = ok && slicesAny(in.tags, func(t [2]string) bool { return t[0] == k && hasString(fl.values, t[1]) })
			default:
				ec2Error(w, 400, "InvalidParameterValue", "The filter '"+fl.name+"' is invalid")
				return
			}
		}
		if ok {
			res.Reservations = append(res.Reservations, reservationXML{ID: "r-" + id[2:], OwnerID: "123456789012", Instances: []ec2InstanceXML{f.xml(in, false)}})
		}
	}
	writeXML(w, res)
}

func (f *ec2Fake) terminate(w http.ResponseWriter, r *http.Request) {
	ids := indexed(r.PostForm, "InstanceId.", "")
	res := terminateResponse{Xmlns: ec2Xmlns, RequestID: "r3"}
	for _, id := range ids {
		if f.instances[id] == nil {
			ec2Error(w, 400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id))
			return
		}
	}
	for _, id := range ids {
		in := f.instances[id]
		prev := in.state
		if in.state != "terminated" {
			f.srv.deletes++
		}
		// EC2 keeps terminated instances visible for a while.
		in.state = "terminated"
		res.Items = append(res.Items, stateChange{ID: id, Current: stateXML{48, "terminated"}, Previous: stateXML{stateCode(prev), prev}})
	}
	sort.Slice(res.Items, func(i, j int) bool { return res.Items[i].ID < res.Items[j].ID })
	writeXML(w, res)
}

func slicesAny[T any](l []T, fn func(T) bool) bool {
	for _, x := range l {
		if fn(x) {
			return true
		}
	}
	return false
}

func stateCode(s string) int {
	return map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}[s]
}

const ec2Xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/"

type stateXML struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type tagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type ec2InstanceXML struct {
	ID         string     `xml:"instanceId"`
	ImageID    string     `xml:"imageId"`
	State      stateXML   `xml:"instanceState"`
	Type       string     `xml:"instanceType"`
	AZ         string     `xml:"placement>availabilityZone"`
	SubnetID   string     `xml:"subnetId,omitempty"`
	KeyName    string     `xml:"keyName,omitempty"`
	Groups     []groupXML `xml:"groupSet>item"`
	PrivateIP  string     `xml:"privateIpAddress,omitempty"`
	PublicIP   string     `xml:"ipAddress,omitempty"`
	Tags       []tagXML   `xml:"tagSet>item"`
	LaunchTime string     `xml:"launchTime"`
}

type runResponse struct {
	XMLName       xml.Name         `xml:"RunInstancesResponse"`
	Xmlns         string           `xml:"xmlns,attr"`
	RequestID     string           `xml:"requestId"`
	ReservationID string           `xml:"reservationId"`
	OwnerID       string           `xml:"ownerId"`
	Instances     []ec2InstanceXML `xml:"instancesSet>item"`
}

type reservationXML struct {
	ID        string           `xml:"reservationId"`
	OwnerID   string           `xml:"ownerId"`
	Instances []ec2InstanceXML `xml:"instancesSet>item"`
}

type describeResponse struct {
	XMLName      xml.Name         `xml:"DescribeInstancesResponse"`
	Xmlns        string           `xml:"xmlns,attr"`
	RequestID    string           `xml:"requestId"`
	Reservations []reservationXML `xml:"reservationSet>item"`
}

type stateChange struct {
	ID       string   `xml:"instanceId"`
	Current  stateXML `xml:"currentState"`
	Previous stateXML `xml:"previousState"`
}

type terminateResponse struct {
	XMLName   xml.Name      `xml:"TerminateInstancesResponse"`
	Xmlns     string        `xml:"xmlns,attr"`
	RequestID string        `xml:"requestId"`
	Items     []stateChange `xml:"instancesSet>item"`
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(200)
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(v)
}

func (f *ec2Fake) xml(in *ec2Instance, fresh bool) ec2InstanceXML {
	x := ec2InstanceXML{
		ID: in.id, ImageID: in.image, State: stateXML{stateCode(in.state), in.state}, Type: in.typ,
		AZ: "us-east-1a", SubnetID: in.subnet, KeyName: in.keyName, PrivateIP: in.private, LaunchTime: "2026-11-22T03:00:00.000Z",
	}
	for _, g := range in.groups {
		x.Groups = append(x.Groups, groupXML{ID: g})
	}
	if in.state == "running" && !fresh {
		x.PublicIP = in.addr
	}
	for _, t := range in.tags {
		x.Tags = append(x.Tags, tagXML{t[0], t[1]})
	}
	return x
}
