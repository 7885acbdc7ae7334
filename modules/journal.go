package modules

import (
	"strings"

	"github.com/drover-cm/drover/engine/shell"

	"github.com/drover-cm/drover/modules/contract"
)

// JournalKeep is how many runs the journal keeps on a host: starting the
// journal of a new run removes the oldest beyond it (journalKeep is the
// same number in the script).
const (
	JournalKeep = 20
	journalKeep = "20"
)

// The journal (docs/undo.md): before a step of safeFS replaces, removes or
// re-owns a path, it records on the host what was there, so that `drover
// undo` can put it back. The journal lives under JournalDir, one directory
// per run (the run's id, from engine/remote.Journal, is $_fjr in the
// script: unset, nothing is journaled: plan, check and undo's reads), with
// numbered entries as flat files:
//
//	count        the number of the last entry (one line)
//	meta         the run's metadata: key=value lines (time, operator, ...)
//	N.path       the absolute path the entry is about (no newline)
//	N.before     what was there: key=value lines: kind (absent, file, dir,
//	             link, other), mode (octal), uid, gid, empty (a directory's,
//	             1 when it had no entries), meta (a file only re-owned or
//	             chmodded: its content is not kept, it does not change),
//	             note (why the content was not kept: "too large", "other
//	             names", "unverified")
//	N.content    a file's previous content (unless meta); its checksum is
//	             computed when undo reads it, not at apply time
//	N.target     a link's previous target
//	N.after      what drover left there: kind, and a file's sha256
//	N.atarget    a link's target after the change
//
// Every name is written by root in directories that nobody else can change:
// the journal directory and each directory on the way to it are checked
// with drover_fixedpath before the first write of a step, and made one
// component at a time, refusing a symbolic link anywhere, when missing.
// Directories are 0700 and files 0600 (umask 077 around every write), so
// previous contents (/etc/shadow's) are readable by root only. A journal that
// cannot be written safely fails the step before it changes anything: the
// change is never made unrecorded.
//
// Only a root run journals (the connecting user is root, or become makes
// it so): a non-root run writes nothing and `drover history` says so; see
// docs/undo.md.
//
// The cost is paid by changes only, and kept to a few processes each: one
// stat of the path, a cat of its content, a sha256sum after the change,
// and one stat (drover_fixedpath) of the journal directory per batch (a
// batch marks it checked in $_fjok, a file in its private directory).
//
// Each step runs in its own subshell: $_fje (the entry being written) is a
// step's own. An entry's number is taken by creating N.path exclusively
// (noclobber: O_EXCL), from the count file's hint on: inventory hosts that
// are the same machine (connection = "local") journal one run in parallel.
// Readers take entries 1, 2, ... while N.path exists.
const journalFS = "_fjb=" + journalBase + " _fje= _fjum= _fjpk=\n" + `drover_jrefuse() { echo "drover: cannot keep the undo journal in $_fjb: $1; nothing was changed (make $_fjb a directory of root's that nobody else can write, or remove it)" >&2; return 1; }
drover_jbase() {
	[ "$_fme" = 0 ] || return 1
	if drover_fixedpath "$_fjb"; then return 0; fi
	_fjp= _fjw=${_fjb#/}
	while [ -n "$_fjw" ]; do
		case $_fjw in */*) _fjc=${_fjw%%/*} _fjw=${_fjw#*/} ;; *) _fjc=$_fjw _fjw= ;; esac
		_fjp=$_fjp/$_fjc
		if [ -L "$_fjp" ]; then drover_jrefuse "$_fjp is a symbolic link"; return 1; fi
		if [ ! -e "$_fjp" ]; then mkdir -m 0700 -- "$_fjp" 2>/dev/null || [ -d "$_fjp" ] || { drover_jrefuse "mkdir $_fjp failed"; return 1; }; fi
		if [ -L "$_fjp" ] || [ ! -d "$_fjp" ]; then drover_jrefuse "$_fjp is not a directory"; return 1; fi
	done
	drover_fixedpath "$_fjb" || { drover_jrefuse "it, or a directory on the way, is not root's or can be written by others"; return 1; }
}
drover_jopen() {
	if [ -n "$_fjok" ] && [ -f "$_fjok" ]; then return 0; fi
	if drover_fixedpath "$_fjb/$_fjr"; then drover_jok; return 0; fi
	drover_jbase || return 1
	if mkdir -m 0700 -- "$_fjb/$_fjr" 2>/dev/null; then
		printf '%s\n' "$_fjm" >"$_fjb/$_fjr/meta" || return 1
		set -- "$_fjb"/[0-9]*T*Z-*
		while [ "$#" -gt ` + journalKeep + ` ]; do
			case $1 in "$_fjb/$_fjr") ;; *) rm -rf -- "$1" ;; esac
			shift
		done
	elif ! drover_fixedpath "$_fjb/$_fjr"; then
		drover_jrefuse "$_fjb/$_fjr is not a directory of root's"
		return 1
	fi
	drover_jok
}
drover_jok() { if [ -n "$_fjok" ]; then : >"$_fjok" || :; fi; }
drover_journal() {
	_fje=
	if [ -z "$_fjr" ] || [ "$_fme" != 0 ]; then return 0; fi
	_fjum=${_fju:-$(umask)}
	umask 077
	drover_journal1 "$@"
	_fjx=$?
	umask "$_fjum"
	return $_fjx
}
drover_journal1() {
	drover_jopen || return 1
	case $1 in
	/*) _fja=$1 ;;
	../*) _fja=${PWD%/*}/${1#../}; case $_fja in /*) ;; *) _fja=/$_fja ;; esac ;;
	.) _fja=$PWD ;;
	*) _fja=${PWD%/}/$1 ;;
	esac
	drover_jnew "$_fja" || return 1
	if [ -L "$1" ]; then
		_fjt=$(readlink -- "$1") && printf '%s' "$_fjt" >"$_fje.target" || return 1
		printf 'kind=link\n' >"$_fje.before"
		return
	fi
	if [ ! -e "$1" ]; then printf 'kind=absent\n' >"$_fje.before"; return; fi
	_fjs=$(stat -c '%a %u %g %s %h %d:%i' -- "$1") || return 1
	set -- "$1" $_fjs "${2:-}"
	if [ -d "$1" ]; then
		_fjy=1
		for _fjz in "$1"/* "$1"/.[!.]* "$1"/..?*; do if [ -e "$_fjz" ] || [ -L "$_fjz" ]; then _fjy=; break; fi; done
		printf 'kind=dir\nmode=%s\nuid=%s\ngid=%s\nempty=%s\n' "$2" "$3" "$4" "$_fjy" >"$_fje.before"
		return
	fi
	if [ ! -f "$1" ]; then printf 'kind=other\n' >"$_fje.before"; return; fi
	_fjo=
	if [ -z "$_fpf" ]; then _fjo=unverified
	elif [ "$6" != 1 ]; then _fjo='other names'
	elif [ "$8" != meta ] && [ "$5" -gt 67108864 ]; then _fjo='too large'
	fi
	if [ -z "$_fjo" ] && [ "$8" != meta ]; then
		exec 4<"$1" || return 1
		if [ "$(stat -L -c '%d:%i' /proc/self/fd/4)" != "$7" ] || [ -L "$1" ]; then
			_fjo=unverified
		elif ! cat <&4 >"$_fje.content"; then
			exec 4<&-
			return 1
		fi
		exec 4<&-
	fi
	printf 'kind=file\nmode=%s\nuid=%s\ngid=%s\nmeta=%s\nnote=%s\n' "$2" "$3" "$4" "$8" "$_fjo" >"$_fje.before"
}
drover_jnew() {
	_fjn=0
	if [ -f "$_fjb/$_fjr/count" ]; then read -r _fjn <"$_fjb/$_fjr/count" || :; fi
	case $_fjn in '' | *[!0-9]*) _fjn=0 ;; esac
	set -C
	while :; do
		_fjn=$((_fjn + 1))
		_fje=$_fjb/$_fjr/$_fjn
		if { printf '%s' "$1" >"$_fje.path"; } 2>/dev/null; then break; fi
		if [ ! -e "$_fje.path" ]; then set +C; _fje=; return 1; fi
	done
	set +C
	printf '%s\n' "$_fjn" >"$_fjb/$_fjr/count"
}
drover_jcopy() {
	if ! drover_fixedpath "$_fjb/$1"; then echo "drover: the journal $_fjb/$1 can be changed by others than root; nothing was restored from it" >&2; return 1; fi
	if [ -L "$_fjb/$1/$2.content" ] || [ ! -f "$_fjb/$1/$2.content" ]; then echo "drover: entry $2 of run $1 has no previous content in the journal" >&2; return 1; fi
	cat -- "$_fjb/$1/$2.content" >"$3"
}
drover_jafter() {
	_fjq=${2:-$_fje}
	if [ -z "$_fjq" ]; then return 0; fi
	_fjum=${_fju:-$(umask)}
	umask 077
	if [ -L "$1" ]; then
		_fjt=$(readlink -- "$1") && printf '%s' "$_fjt" >"$_fjq.atarget"
		printf 'kind=link\n' >"$_fjq.after"
	elif [ -d "$1" ]; then printf 'kind=dir\n' >"$_fjq.after"
	elif [ -f "$1" ]; then _fjh=$(sha256sum <"$1") && printf 'kind=file\nsha256=%s\n' "${_fjh%% *}" >"$_fjq.after"
	elif [ -e "$1" ]; then printf 'kind=other\n' >"$_fjq.after"
	else printf 'kind=absent\n' >"$_fjq.after"
	fi
	_fjx=$?
	umask "$_fjum"
	[ -n "$2" ] || _fje=
	return $_fjx
}
` + journalAccountsFS + journalPackagesFS

// journalDot and journalDotAfter are the script lines around a change of
// the owner or mode of ".", the directory a step entered: see journalFS.
const (
	journalDot      = "drover_journal . meta\n"
	journalDotAfter = "drover_jafter .\n"
)

// journalRemove is rm (a command removing name, a shell word) journaled.
func journalRemove(rm, name string) string {
	return "drover_journal " + name + "; " + rm + "; drover_jafter " + name
}

// The account modules change /etc/passwd, /etc/shadow, /etc/group and
// /etc/gshadow with useradd, usermod, groupadd, ... (or busybox's
// adduser): their steps journal those files whole before the command
// (drover_jaccounts) and after it, so that undo restores them exactly, or
// refuses when someone changed them since. A home directory useradd made is
// not journaled (undo leaves it; docs/undo.md).
//
// In a batch ($_fjok set) the files are journaled whole once, by the first
// account step: it leaves its entries' list in the batch's private
// directory, and the later account steps of the batch only record the
// files' state after their command in those same entries. Each entry then
// holds the files before the batch's first account change and after its
// last, which is what undo restores and compares; a step of another module
// that writes one of these files between two account steps of a batch
// makes undo refuse them as changed since, never restore them inexactly.
const journalAccountsFS = `drover_jaccounts() {
	_fjacc= _fjak=
	if [ -n "$_fjr" ] && [ "$_fme" = 0 ] && [ -n "$_fjok" ]; then
		_fjak=${_fjok%/*}/journal-accounts
		if [ -f "$_fjak" ] && IFS= read -r _fjacc <"$_fjak"; then return 0; fi
		_fjacc=
	fi
	for _fjf in /etc/passwd /etc/shadow /etc/group /etc/gshadow; do
		if [ -e "$_fjf" ] || [ -L "$_fjf" ]; then drover_journal "$_fjf" || return 1; _fjacc="$_fjacc $_fje|$_fjf"; fi
	done
	if [ -n "$_fjak" ] && [ -n "$_fjacc" ]; then printf '%s\n' "$_fjacc" >"$_fjak" || :; fi
}
drover_jaccounts_after() { for _fjx in $_fjacc; do drover_jafter "${_fjx#*|}" "${_fjx%|*}"; done; }
`

// Diff is diff with its steps journaling the account files.
func (t *userTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	return journalAccounts(t.diff(out))
}

// Diff is diff with its steps journaling the account files.
func (t *groupTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	return journalAccounts(t.diff(out))
}

// journalAccounts makes p's account commands journal the account files
// (steps that are safeFS's already, an authorized_keys edit, journal their
// own paths).
func journalAccounts(p *contract.Plan, err error) (*contract.Plan, error) {
	if p == nil || err != nil {
		return p, err
	}
	for i, st := range p.Steps {
		if strings.TrimSpace(st.Script) == "" || strings.HasPrefix(st.Script, safeFS) {
			continue
		}
		p.Steps[i].Script = safeFS + "drover_jaccounts\n" + st.Script + "\ndrover_jaccounts_after\n"
	}
	return p, nil
}

// The package module's steps journal each named package before the
// manager's transaction (drover_jpkg MANAGER NAME) and after it
// (drover_jpkg_after): the entry's N.path is "package NAME" (what undo's
// plan names), N.package is "MANAGER NAME", and N.before and N.after are
// kind=absent or kind=package with the installed version. One version
// query (drover_pkgv) per name before and after; nothing when the run is
// not journaled. Packages the transaction pulls in as dependencies are not
// journaled (docs/undo.md).
const journalPackagesFS = `drover_pkgv() {
	_fpv=
	case $1 in
	apt) _fpv=$(dpkg-query -W -f='${Status}\t${Version}' "$2" 2>/dev/null) || _fpv=
		case $_fpv in *' installed	'*) _fpv=${_fpv#*	} ;; *) _fpv= ;; esac ;;
	apk) _fpv=$(apk list -I "$2" 2>/dev/null) || _fpv=
		case $_fpv in "$2"-[0-9]*) _fpv=${_fpv%% *}; _fpv=${_fpv#"$2"-} ;; *) _fpv= ;; esac ;;
	dnf | yum) _fpv=$(rpm -q --qf '%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n' "$2" 2>/dev/null) || _fpv= ;;
	esac
}
drover_jpkgstate() { if [ -n "$_fpv" ]; then printf 'kind=package\nversion=%s\n' "$_fpv"; else printf 'kind=absent\n'; fi; }
drover_jpkg() {
	_fje=
	if [ -z "$_fjr" ] || [ "$_fme" != 0 ]; then return 0; fi
	_fjum=${_fju:-$(umask)}
	umask 077
	drover_jpkg1 "$@"
	_fjx=$?
	umask "$_fjum"
	return $_fjx
}
drover_jpkg1() {
	drover_jopen || return 1
	drover_jnew "package $2" || return 1
	printf '%s %s\n' "$1" "$2" >"$_fje.package" || return 1
	drover_pkgv "$1" "$2"
	drover_jpkgstate >"$_fje.before" || return 1
	_fjpk="$_fjpk $_fje|$1|$2"
	_fje=
}
drover_jpkg_after() {
	_fjum=${_fju:-$(umask)}
	umask 077
	for _fjx in $_fjpk; do
		_fjq=${_fjx%%|*} _fjx=${_fjx#*|}
		drover_pkgv "${_fjx%%|*}" "${_fjx#*|}"
		drover_jpkgstate >"$_fjq.after"
	done
	umask "$_fjum"
	_fjpk=
}
`

// journalPackages is a package step's script: script, the manager's
// transaction over names, with each name journaled before and after it.
func journalPackages(pm pkgManager, names []string, script string) string {
	var b strings.Builder
	b.WriteString(safeFS)
	for _, n := range names {
		b.WriteString(shell.Join("drover_jpkg", pm.name(), n) + "\n")
	}
	b.WriteString(script + "\ndrover_jpkg_after\n")
	return b.String()
}
