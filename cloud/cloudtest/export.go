package cloudtest

import "encoding/json"

// PatchedSpec returns the trimmed official spec of "digitalocean" or
// "linode" with its known defects patched, as JSON: what the fakes validate
// against, for other validators (the Prism mock server in integration tests).
func PatchedSpec(provider string) ([]byte, error) {
	var sp *spec
	var err error
	switch provider {
	case "digitalocean":
		sp, err = loadSpec("digitalocean-v2.openapi", patchDO)
	case "linode":
		sp, err = loadSpec("linode-v4.openapi", patchLinode)
	default:
		return nil, errUnknown(provider)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(sp.doc)
}

type errUnknown string

func (e errUnknown) Error() string { return "cloudtest: no spec for " + string(e) }
