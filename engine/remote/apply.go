package remote

import (
	"context"
	"strings"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// Apply runs the Steps of plan in order: for each step its uploads (by
// conn.Put), then its Script under `set -e` (or its Func). It stops at the
// first failure and returns that step's output with an error (a
// *contract.StepError for a non-zero exit, whose message holds the last
// lines of stderr). On success the Result holds the stdout and stderr of
// every step, concatenated, and the exit status of the last.
func Apply(ctx context.Context, conn transport.Conn, plan *contract.Plan) (transport.Result, error) {
	var all transport.Result
	if plan == nil {
		return all, nil
	}
	for i, st := range plan.Steps {
		for _, up := range st.Uploads {
			if err := upload(ctx, conn, up); err != nil {
				return all, &contract.StepError{Step: i, Err: err}
			}
		}
		var res transport.Result
		var err error
		switch {
		case st.Func != nil:
			res, err = st.Func(ctx, conn)
		case strings.TrimSpace(st.Script) != "":
			res, err = runScript(ctx, conn, "set -e\n"+journalVars(ctx, false)+st.Script)
		default:
			continue
		}
		if err := contract.StepFailure(i, res, err); err != nil {
			return res, err
		}
		all.Stdout = append(all.Stdout, res.Stdout...)
		all.Stderr = append(all.Stderr, res.Stderr...)
		all.ExitCode = res.ExitCode
	}
	return all, nil
}

func upload(ctx context.Context, conn transport.Conn, up contract.Upload) error {
	r, err := openUpload(up)
	if err != nil {
		return err
	}
	defer r.Close()
	return put(ctx, conn, up, r)
}
