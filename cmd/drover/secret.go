package main

// drover secret edit|encrypt|decrypt: CLI wiring over engine/secrets.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"filippo.io/age"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/secrets"
)

var secretOpts struct {
	output     string
	recipients []string
	passphrase bool
	force      bool
}

var secretCmd = &cobra.Command{
	Use:   "secret",
	Short: "Edit, encrypt and decrypt variable files encrypted with age",
	Long: `Keep secrets in variable files encrypted with age, and pass them to plan,
apply, validate and run with --var-file FILE.age: they are decrypted in memory
only, and every value from them is sensitive.

A file is encrypted to the public keys in FILE.age.recipients, or else in
.age-recipients in its directory (one age1... key a line: the team), or else
with a passphrase (one person). Decrypting needs --identity FILE or
DROVER_AGE_IDENTITY for public keys, or the passphrase, asked once per run.
decrypt also reads Ansible Vault files (--vault-password-file). See
docs/secrets.md.`,
}

var secretEncryptCmd = &cobra.Command{
	Use:   "encrypt FILE",
	Short: "Encrypt a clear file to FILE.age (or -o OUT)",
	Example: `  drover secret encrypt secrets.hcl            # to the keys in .age-recipients
  drover secret encrypt secrets.hcl --passphrase`,
	Args: cobra.ExactArgs(1),
	RunE: runSecretEncrypt,
}

var secretDecryptCmd = &cobra.Command{
	Use:     "decrypt FILE",
	Short:   "Print the clear text of an encrypted file (or write it to -o OUT, mode 0600)",
	Example: `  drover secret decrypt secrets.hcl.age --identity ~/.config/drover/key.txt`,
	Args:    cobra.ExactArgs(1),
	RunE:    runSecretDecrypt,
}

var secretEditCmd = &cobra.Command{
	Use:   "edit FILE",
	Short: "Decrypt FILE into a private temporary file, run $EDITOR, and encrypt it back",
	Long: `Decrypt FILE (an age file; a new one when it does not exist) into a file
of mode 0600 in a private temporary directory (in /dev/shm when there is one,
so the clear text stays in memory), run $VISUAL or $EDITOR on it, and encrypt
the result back to FILE with a temporary file and a rename. The clear copy is
removed on every path: saved, unchanged, editor failure, Ctrl-C or SIGTERM.`,
	Example: `  EDITOR=nano drover secret edit secrets.hcl.age`,
	Args:    cobra.ExactArgs(1),
	RunE:    runSecretEdit,
}

func init() {
	secretEncryptCmd.Flags().StringVarP(&secretOpts.output, "output", "o", "", "write here instead of FILE.age")
	secretEncryptCmd.Flags().StringArrayVarP(&secretOpts.recipients, "recipient", "r", nil, "encrypt to this age public key (repeatable; instead of the recipients file)")
	secretEncryptCmd.Flags().BoolVar(&secretOpts.passphrase, "passphrase", false, "encrypt with a passphrase, even when there is a recipients file")
	secretEncryptCmd.Flags().BoolVar(&secretOpts.force, "force", false, "overwrite the output file if it exists")
	secretDecryptCmd.Flags().StringVarP(&secretOpts.output, "output", "o", "", "write the clear text to this file (mode 0600) instead of stdout")
	secretEditCmd.Flags().StringArrayVarP(&secretOpts.recipients, "recipient", "r", nil, "encrypt to this age public key (repeatable; instead of the recipients file)")
	secretEditCmd.Flags().BoolVar(&secretOpts.passphrase, "passphrase", false, "encrypt with a passphrase, even when there is a recipients file")
	secretCmd.AddCommand(secretEncryptCmd, secretDecryptCmd, secretEditCmd)
	rootCmd.AddCommand(secretCmd)
}

// recipientsFor decides whom path is encrypted to: --recipient keys, else
// the recipients file, else a passphrase (the one that opened the file when
// editing one, or a new one asked twice). It says which, for the user.
func recipientsFor(k *secrets.Keys, path string, old []byte) ([]age.Recipient, string, error) {
	if len(secretOpts.recipients) > 0 && !secretOpts.passphrase {
		rs, err := age.ParseRecipients(strings.NewReader(strings.Join(secretOpts.recipients, "\n")))
		if err != nil {
			return nil, "", usageErrorf("--recipient: %w", err)
		}
		return rs, fmt.Sprintf("%d recipient(s) from --recipient", len(rs)), nil
	}
	if rf := secrets.RecipientsFile(path); rf != "" && !secretOpts.passphrase {
		rs, err := secrets.ReadRecipients(rf)
		if err != nil {
			return nil, "", err
		}
		return rs, fmt.Sprintf("%d recipient(s) from %s", len(rs), rf), nil
	}
	if old != nil && !secrets.IsPassphraseFile(old) && !secretOpts.passphrase {
		// Re-encrypting to the editor's key alone would lock the team out.
		return nil, "", fmt.Errorf("%s is encrypted to public keys, and drover cannot tell whose from the file: list them in %s or %s (one age1... key a line) and try again",
			path, path+secrets.RecipientsSuffix, filepath.Join(filepath.Dir(path), secrets.DirRecipients))
	}
	pass := k.Passphrase()
	if pass == nil {
		var err error
		if pass, err = k.NewPassphrase(path); err != nil {
			return nil, "", err
		}
	}
	r, err := secrets.PassphraseRecipient(pass)
	if err != nil {
		return nil, "", err
	}
	return []age.Recipient{r}, "a passphrase", nil
}

func runSecretEncrypt(cmd *cobra.Command, args []string) error {
	u := newUI(cmd)
	in := args[0]
	out := secretOpts.output
	if out == "" {
		out = in + ".age"
	}
	clear, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("reading the clear file: %w", err)
	}
	if f, err := secrets.Detect(in, clear); err != nil {
		return err
	} else if f != secrets.Plain {
		return fmt.Errorf("%s is already encrypted (%v); edit it with `drover secret edit %s`", in, f, in)
	}
	if _, err := os.Stat(out); err == nil && !secretOpts.force {
		return fmt.Errorf("%s exists; pass --force to overwrite it, or use `drover secret edit %s`", out, out)
	}
	rs, whom, err := recipientsFor(secretKeys(u), out, nil)
	if err != nil {
		return err
	}
	enc, err := secrets.EncryptAge(clear, rs...)
	if err != nil {
		return err
	}
	if err := writeAtomic(out, enc, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(u.stderr, "Encrypted %s to %s for %s. %s is still in clear: delete it once you have checked.\n", in, out, whom, in)
	return nil
}

func runSecretDecrypt(cmd *cobra.Command, args []string) error {
	u := newUI(cmd)
	clear, f, err := secretKeys(u).ReadFile(args[0])
	if err != nil {
		return err
	}
	if f == secrets.Plain {
		return fmt.Errorf("%s is not encrypted; drover reads %s", args[0], secrets.Readable)
	}
	if secretOpts.output != "" {
		return writeAtomic(secretOpts.output, clear, 0o600)
	}
	_, err = u.stdout.Write(clear)
	return err
}

func runSecretEdit(cmd *cobra.Command, args []string) error {
	u := newUI(cmd)
	path := args[0]
	k := secretKeys(u)
	var old, clear []byte
	mode := fs.FileMode(0o644)
	switch data, err := os.ReadFile(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading %s: %w", path, err)
	default:
		f, err := secrets.Detect(path, data)
		if err != nil {
			return err
		}
		if f != secrets.Age {
			return fmt.Errorf("%s is %v, not age; drover secret edit edits age files (Ansible Vault files: ansible-vault edit)", path, f)
		}
		if clear, _, err = k.Open(path, data); err != nil {
			return err
		}
		old = data
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	}
	// Whom to encrypt to is settled before the clear text is exposed.
	rs, whom, err := recipientsFor(k, path, old)
	if err != nil {
		return err
	}
	edited, err := editClear(u, path, clear)
	if err != nil {
		return err
	}
	if old != nil && bytes.Equal(edited, clear) {
		fmt.Fprintf(u.stderr, "%s: no change.\n", path)
		return nil
	}
	enc, err := secrets.EncryptAge(edited, rs...)
	if err != nil {
		return err
	}
	if err := writeAtomic(path, enc, mode); err != nil {
		return err
	}
	fmt.Fprintf(u.stderr, "Saved %s, encrypted for %s.\n", path, whom)
	warnSyntax(u, path, edited)
	return nil
}

// editClear writes clear to a 0600 file in a fresh 0700 directory, runs the
// editor on it and returns what it saved. The directory is removed on every
// path; a signal is passed on to the editor and ends the edit unsaved.
func editClear(u *ui, path string, clear []byte) ([]byte, error) {
	dir, err := os.MkdirTemp(privateTempBase(), "drover-secret-")
	if err != nil {
		return nil, fmt.Errorf("creating a private temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), ".age"))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the clear copy: %w", err)
	}
	_, werr := f.Write(clear)
	if err := errors.Join(werr, f.Close()); err != nil {
		return nil, fmt.Errorf("writing the clear copy: %w", err)
	}

	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	// As git does: $EDITOR may hold arguments ("code --wait").
	ed := exec.Command("sh", "-c", editor+` "$1"`, "editor", tmp)
	ed.Stdin, ed.Stdout, ed.Stderr = os.Stdin, u.stdout, u.stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := ed.Start(); err != nil {
		return nil, fmt.Errorf("starting the editor %q: %w", editor, err)
	}
	got := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			got <- s
			_ = ed.Process.Signal(s)
		case <-done:
		}
	}()
	werr = ed.Wait()
	close(done)
	select {
	case s := <-got:
		return nil, &exitCodeError{code: exitInterrupted, err: fmt.Errorf("%v: %s left unchanged", s, path)}
	default:
	}
	if werr != nil {
		return nil, fmt.Errorf("the editor %q failed (%w); %s left unchanged", editor, werr, path)
	}
	edited, err := os.ReadFile(tmp)
	if err != nil {
		return nil, fmt.Errorf("reading the edited copy: %w", err)
	}
	return edited, nil
}

// privateTempBase is where the clear copy goes: /dev/shm (memory) when it
// is a usable directory, else the system temporary directory.
func privateTempBase() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() && syscall.Access("/dev/shm", 2) == nil {
		return "/dev/shm"
	}
	return os.TempDir()
}

// warnSyntax warns about an HCL syntax error in an edited .hcl.age file,
// by position only: a source line would show the secrets.
func warnSyntax(u *ui, path string, clear []byte) {
	if !strings.HasSuffix(path, ".hcl.age") {
		return
	}
	_, diags := hclsyntax.ParseConfig(clear, path, hcl.InitialPos)
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Subject != nil {
			u.warnf("%s:%d:%d: %s; run `drover secret edit %s` again to fix it", path, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary, path)
		}
	}
}

// writeAtomic writes data to path through a temporary file in the same
// directory and a rename, so that path is never half written.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Chmod(mode), f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
