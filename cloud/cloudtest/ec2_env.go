package cloudtest

import "testing"

// AWS's documented example credentials: what tests sign EC2 requests with.
const (
	AWSAccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	AWSSecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// AWSTestEnv points the AWS SDK's default chain at the example credentials
// for the test, away from the developer's own configuration, the instance
// metadata service and any endpoint override.
func AWSTestEnv(t testing.TB) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           AWSAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       AWSSecretAccessKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             "/nonexistent",
		"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_EC2":        "",
	} {
		t.Setenv(k, v)
	}
}
