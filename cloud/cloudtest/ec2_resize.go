package cloudtest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// Stopping, starting and changing the type of EC2 instances, with EC2's
// rules: the type of a stopped instance only, a type that exists (and runs
// the AMI's architecture), states passed through (stopping, pending) for
// Options.PollsUntilRunning reads each.

// settle ends a transition: pending runs, stopping stops.
func (in *ec2Instance) settle() {
	switch in.state {
	case "pending":
		in.state = "running"
		in.booted = true
	case "stopping":
		in.state = "stopped"
	}
}

// instancesOr404 returns the instances named by InstanceId.N, or answers
// InvalidInstanceID.NotFound.
func (f *ec2Fake) instancesOr404(w http.ResponseWriter, r *http.Request) ([]*ec2Instance, bool) {
	var out []*ec2Instance
	for _, id := range indexed(r.PostForm, "InstanceId.", "") {
		in := f.instances[id]
		if in == nil {
			ec2Error(w, 400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id))
			return nil, false
		}
		out = append(out, in)
	}
	return out, true
}

func incorrectState(w http.ResponseWriter, in *ec2Instance, action string) {
	ec2Error(w, 400, "IncorrectInstanceState", fmt.Sprintf("The instance '%s' is not in a state from which it can be %s.", in.id, action))
}

func (f *ec2Fake) stop(w http.ResponseWriter, r *http.Request) {
	ins, ok := f.instancesOr404(w, r)
	if !ok {
		return
	}
	for _, in := range ins {
		if in.state == "terminated" || in.state == "shutting-down" {
			incorrectState(w, in, "stopped")
			return
		}
	}
	res := stateChangeResponse{XMLName: xmlName("StopInstancesResponse"), Xmlns: ec2Xmlns, RequestID: "r4"}
	for _, in := range ins {
		prev := in.state
		if in.state == "running" || in.state == "pending" {
			in.state, in.polls = "stopping", f.opts.polls()
		}
		res.Items = append(res.Items, stateChange{ID: in.id, Current: stateXML{stateCode(in.state), in.state}, Previous: stateXML{stateCode(prev), prev}})
	}
	writeXML(w, res)
}

func (f *ec2Fake) start(w http.ResponseWriter, r *http.Request) {
	ins, ok := f.instancesOr404(w, r)
	if !ok {
		return
	}
	for _, in := range ins {
		if in.state != "stopped" && in.state != "running" && in.state != "pending" {
			incorrectState(w, in, "started")
			return
		}
	}
	res := stateChangeResponse{XMLName: xmlName("StartInstancesResponse"), Xmlns: ec2Xmlns, RequestID: "r5"}
	for _, in := range ins {
		prev := in.state
		if in.state == "stopped" {
			in.state, in.polls = "pending", f.opts.polls()
		}
		res.Items = append(res.Items, stateChange{ID: in.id, Current: stateXML{stateCode(in.state), in.state}, Previous: stateXML{stateCode(prev), prev}})
	}
	writeXML(w, res)
}

func (f *ec2Fake) modify(w http.ResponseWriter, r *http.Request) {
	id, typ := r.PostForm.Get("InstanceId"), r.PostForm.Get("InstanceType.Value")
	in := f.instances[id]
	switch {
	case in == nil:
		ec2Error(w, 400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id))
		return
	case typ == "":
		f.violate(w, "ModifyInstanceAttribute: the fake changes the instance type only")
		return
	case in.state != "stopped":
		ec2Error(w, 400, "IncorrectInstanceState", fmt.Sprintf("The instance '%s' is not in the 'stopped' state.", id))
		return
	case !hasString(ec2Types, typ):
		ec2Error(w, 400, "InvalidInstanceAttributeValue", fmt.Sprintf("Value (%s) for parameter instanceType is invalid. Invalid instance type.", typ))
		return
	case strings.Contains(strings.Split(typ, ".")[0], "g"):
		ec2Error(w, 400, "InvalidParameterValue", "The architecture 'arm64' of the specified instance type does not match the architecture 'x86_64' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.")
		return
	}
	in.typ = typ
	writeXML(w, returnResponse{XMLName: xmlName("ModifyInstanceAttributeResponse"), Xmlns: ec2Xmlns, RequestID: "r6", Return: true})
}

func (f *ec2Fake) describeTypes(w http.ResponseWriter, r *http.Request) {
	want := indexed(r.PostForm, "InstanceType.", "")
	var bad []string
	for _, t := range want {
		if !hasString(ec2Types, t) {
			bad = append(bad, t)
		}
	}
	if len(bad) > 0 {
		ec2Error(w, 400, "InvalidInstanceType", fmt.Sprintf("The following supplied instance types do not exist: [%s]", strings.Join(bad, ", ")))
		return
	}
	if len(want) == 0 {
		want = ec2Types
	}
	res := describeTypesResponse{Xmlns: ec2Xmlns, RequestID: "r7"}
	for _, t := range want {
		res.Types = append(res.Types, instanceTypeXML{Type: t})
	}
	writeXML(w, res)
}

type stateChangeResponse struct {
	XMLName   xml.Name
	Xmlns     string        `xml:"xmlns,attr"`
	RequestID string        `xml:"requestId"`
	Items     []stateChange `xml:"instancesSet>item"`
}

type returnResponse struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	RequestID string `xml:"requestId"`
	Return    bool   `xml:"return"`
}

type instanceTypeXML struct {
	Type string `xml:"instanceType"`
}

type describeTypesResponse struct {
	XMLName   xml.Name          `xml:"DescribeInstanceTypesResponse"`
	Xmlns     string            `xml:"xmlns,attr"`
	RequestID string            `xml:"requestId"`
	Types     []instanceTypeXML `xml:"instanceTypeSet>item"`
}

type groupXML struct {
	ID string `xml:"groupId"`
}

func xmlName(local string) xml.Name { return xml.Name{Local: local} }
