package modules

import (
	"path"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
)

// The one way drover changes files as root in a tree that another user may
// control (a home directory, an application's directory owned by its user,
// a group-writable /var/… directory): a small sh library that every step
// writing, chowning or chmodding a path includes (safeFS). Path checks such
// as [ -L "$p" ] followed by chown "$p" are races: between the two the
// directory's owner can rename the entry and put a symbolic link (or a hard
// link to another file) in its place, and root then changes /etc/shadow.
// The library closes every such window:
//
//   - drover_cd DIR enters DIR one component at a time. A symbolic link is
//     followed only where no other user can have made or changed it (the
//     directory holding it is root's, or the connecting user's, and nobody
//     else may write it; or it is sticky and the link is ours); anywhere else
//     it is refused. After each step drover checks that ".." is the
//     directory it came from, so an entry swapped for a link between the
//     test and the cd is caught: test -ef against that directory held open
//     on descriptor 9 (/proc/self/fd/9), a builtin, so the walk starts no
//     process (without /proc, two stats compare device and inode). From
//     then on the script names only entries of ".": the kernel resolves
//     them from the directory drover sits in, which no rename of a parent
//     can redirect.
//   - The shortcut (drover_fixedpath): when "/" and every directory on the
//     way to DIR are directories, not links, owned by root or the
//     connecting user, and writable by nobody else (sticky ones on the way
//     allowed), no other user can rename, replace or redirect any of them,
//     and only root can change that; one stat of them all proves it, and
//     drover_cd enters DIR at once. While the script is still there
//     ($_ffix is $PWD: a cd elsewhere ends it) no other user can touch an
//     entry of ".", so drover_install renames the temporary file in place
//     without a private directory, drover_meta changes the file directly,
//     drover_stage's private directory needs no checks, and the
//     directory's fsync can wait for the end of the batch (drover_synclater:
//     the path names it for good).
//   - drover_owncd DIR is drover_cd that also refuses unless DIR and every
//     directory on the way can be changed by nobody but root and the
//     connecting user (drover_fixed for each entry; DIR itself theirs and
//     writable by nobody else). Under such a DIR names cannot be redirected,
//     so a module that writes a whole tree of its own there (release) may
//     use them.
//   - drover_install TMP NAME OWNER MODE moves TMP, the temporary file the
//     upload wrote beside NAME, into a private directory (mktemp -d: 0700,
//     ours) made in ".", checks that what it moved is still a regular file
//     of ours with no other name (the owner of "." can rename our entries,
//     and so swap in a link, until the move), sets its owner and mode there,
//     where nobody else can reach it, and renames it over NAME. It is
//     drover_adopt TMP (the move and check: the script is then in the
//     private directory, the file is "f") then drover_place NAME OWNER
//     MODE; a file can also be made as "f" in drover_stage's directory.
//     An empty MODE keeps the mode the file was written with
//     (installUpload: a file that keeps the uploader as owner is uploaded
//     with its final mode, and no chmod runs). rename(2)
//     moves the entry itself and follows no link. The owner of "." can
//     rename the private directory too (a directory's owner can rename any
//     entry of a non-sticky directory), but not change what is in it; so the
//     library enters it and checks that its ".." is "." and that it is ours
//     and 0700 before using it, and names the target as "../NAME".
//   - drover_meta NAME OWNER MODE changes an existing regular file in
//     place: where nobody else can change the directory it does so on NAME
//     directly (chown -h, after a -L test that cannot be raced there);
//     elsewhere it hard-links the entry into a private directory (link(2)
//     does not follow a link), checks that the link is a regular file with
//     exactly two names, the other being NAME, and changes it through that
//     private name. A setuid or setgid mode is refused there: the file is
//     whatever the directory's owner left at NAME.
//   - A directory's own owner and mode are changed with "chown … ." after
//     drover_cd into it: "." is the directory drover entered, never a link.
//   - drover_read NAME prints NAME only if the file opened is the regular
//     file NAME with no other name: the open follows a link, so the opened
//     file's device and inode (read through /proc/self/fd) must be those of
//     the entry itself (lstat). The plan of a user's authorized_keys reads
//     it so, as does its edit.
//
// Every step runs in its own subshell, so a cd never leaks into the next.
var safeFS = transport.SyncFuncs + `_fme=$(id -u) _fmk= _fin= _fown= _ffix= _fsyncs= _fpf= _frun=` + transport.RunID() + `
if [ -d /proc/self/fd ]; then _fpf=1; fi
drover_fixed() {
	_fs=$(stat -c '%u %A' .) || return 1
	case ${_fs%% *} in 0|"$_fme") ;; *) return 1 ;; esac
	case ${_fs#* } in ?????w*|????????w*) ;; *) return 0 ;; esac
	case ${_fs#* } in ?????????[tT]*) ;; *) return 1 ;; esac
	_fs=$(stat -c %u -- "$1" 2>/dev/null) || return 1
	[ "$_fs" = 0 ] || [ "$_fs" = "$_fme" ]
}
drover_fixedpath() {
	case $1 in
	/) set -- / ;;
	*/ | *//* | */./* | */../* | */. | */..) return 1 ;;
	*)
		_fw=${1#/} _fv=
		set -- /
		while [ -n "$_fw" ]; do
			case $_fw in */*) _fv=$_fv/${_fw%%/*} _fw=${_fw#*/} ;; *) _fv=$_fv/$_fw _fw= ;; esac
			set -- "$@" "$_fv"
		done ;;
	esac
	_fs=$(stat -c '%u %A' -- "$@" 2>/dev/null) || return 1
	_fq=$# _fo=$IFS
	IFS='
'
	set -- $_fs
	IFS=$_fo
	[ "$#" -eq "$_fq" ] || return 1
	for _fs; do
		_fq=$((_fq - 1))
		case ${_fs%% *} in 0|"$_fme") ;; *) return 1 ;; esac
		case ${_fs#* } in d????[!w]??[!w]*) ;; d????????[tT]*) [ "$_fq" -gt 0 ] || return 1 ;; *) return 1 ;; esac
	done
}
drover_here() { [ -n "$_ffix" ] && [ "$_ffix" = "$PWD" ]; }
drover_enter() {
	if [ -L "$1" ]; then echo "drover: $(pwd -P)/$1 is a symbolic link; drover does not follow it here" >&2; return 1; fi
	if [ -n "$_fpf" ] && { :; } 9<. 2>/dev/null; then
		{ cd -P -- "$1" || return 1; if [ .. -ef /proc/self/fd/9 ]; then return 0; fi; } 9<.
	else
		_fi=$(stat -c %d:%i .) || return 1
		cd -P -- "$1" || return 1
		if [ "$(stat -c %d:%i ..)" = "$_fi" ]; then return 0; fi
	fi
	echo "drover: $1 was replaced by a link while drover entered it; nothing was changed there" >&2
	return 1
}
drover_cd() {
	_fr=$1 _fn=0 _ffix=
	case $_fr in /*) ;; *) echo "drover: $1 is not an absolute path" >&2; return 1 ;; esac
	if drover_fixedpath "$1"; then
		cd -P -- "$1" || return 1
		_ffix=$PWD
		return 0
	fi
	cd / || return 1
	while [ -n "$_fr" ]; do
		case $_fr in */*) _fc=${_fr%%/*} _fr=${_fr#*/} ;; *) _fc=$_fr _fr= ;; esac
		case $_fc in '' | .) continue ;; ..) cd -P .. || return 1; continue ;; esac
		if [ -L "$_fc" ]; then
			if ! drover_fixed "$_fc"; then
				echo "drover: $(pwd -P)/$_fc is a symbolic link in a directory that $(stat -c %U .) or others can change; drover will not follow it as $(id -un)" >&2
				return 1
			fi
			_fn=$((_fn + 1))
			if [ "$_fn" -gt 40 ]; then echo "drover: $1: too many levels of symbolic links" >&2; return 1; fi
			_fl=$(readlink -- "$_fc") || return 1
			case $_fl in /*) cd / || return 1 ;; esac
			_fr=$_fl/$_fr
			continue
		fi
		if [ ! -e "$_fc" ] && [ -n "$_fmk" ]; then
			drover_journal "$_fc" || return 1
			mkdir -- "$_fc" || return 1
			drover_jafter "$_fc"
		fi
		if [ -n "$_fown" ] && ! drover_fixed "$_fc"; then drover_notours "$(pwd -P)"; return 1; fi
		drover_enter "$_fc" || return 1
	done
	if [ -n "$_fown" ]; then
		_fs=$(stat -c '%u %A' .) || return 1
		case ${_fs%% *} in 0|"$_fme") ;; *) drover_notours "$(pwd -P)"; return 1 ;; esac
		case ${_fs#* } in ?????w*|????????w*) drover_notours "$(pwd -P)"; return 1 ;; esac
	fi
	return 0
}
drover_notours() { echo "drover: $1 can be changed by $(stat -c %U -- "$1") or by others, not only by $(id -un)" >&2; }
drover_mkcd() { _fmk=1; drover_cd "$1"; _fe=$?; _fmk=; return $_fe; }
drover_owncd() { _fown=1; drover_cd "$1"; _fe=$?; _fown=; return $_fe; }
# drover_private: . is the private directory mktemp made: ours, 0700, or
# 02700 when it inherited the setgid bit of a setgid parent (Debian's
# /etc/redis): the group has no access either way.
drover_private() { case $(stat -c '%u %a' .) in "$_fme 700" | "$_fme 2700") return 0 ;; esac; return 1; }
drover_stage() {
	_fb=$1
	while [ "${#_fb}" -gt ` + strconv.Itoa(transport.MaxTempBase) + ` ]; do _fb=${_fb%?}; done
	_fb=.$_fb.drover-$_frun-XXXXXXXXXXXX
	if drover_here; then
		_fp=$(mktemp -d "$_fb") || return 1
		cd -P -- "$_fp" || return 1
		_fin=2
		return 0
	fi
	if [ -n "$_fpf" ] && { :; } 9<. 2>/dev/null; then
		_fp=$(mktemp -d "$_fb") || return 1
		if { cd -P -- "$_fp" && [ .. -ef /proc/self/fd/9 ]; } 9<. && drover_private; then _fin=1; return 0; fi
	else
		_fi=$(stat -c %d:%i .) || return 1
		_fp=$(mktemp -d "$_fb") || return 1
		if cd -P -- "$_fp" && [ "$(stat -c %d:%i ..)" = "$_fi" ] && drover_private; then _fin=1; return 0; fi
	fi
	echo "drover: the private directory $_fp that drover made was replaced; nothing was changed" >&2
	return 1
}
# drover_rmstale NAME removes NAME in ".", a temporary entry of an earlier,
# killed run (transport.StaleTemps chose it): a file or link (rm removes the
# entry, never what a link points to), or a staging
# directory of drover_stage, which is entered only as drover_enter does
# (never through a link, and ".." must be "." again) and emptied only if it
# is still a private directory of ours (drover_private), where nobody else
# can have put or renamed anything, and holds nothing but the names
# drover_stage's callers use (f, g, m, x): another user who owns "." may
# rename a private directory of root's there (a 0700 data directory) to a
# staging name, and it must be left whole. Then the empty directory is
# removed by name (rmdir removes nothing else).
drover_rmstale() {
	if [ -L "$1" ] || [ ! -d "$1" ]; then rm -f -- "$1"; return; fi
	if ( drover_enter "$1" 2>/dev/null && drover_private &&
		for _fz in ./* ./.[!.]* ./..?*; do
			if [ -e "$_fz" ] || [ -L "$_fz" ]; then case $_fz in ./f | ./g | ./m | ./x) ;; *) exit 1 ;; esac; fi
		done && rm -rf -- f g m x ); then rmdir -- "$1" 2>/dev/null || :; fi
}
drover_unstage() {
	case $_fin in
	'') return 0 ;;
	2) _fin=; cd -P .. && rm -rf -- "$_fp" || : ;;
	*)
		_fin=
		for _fx in f g m x; do
			if [ -e "$_fx" ] || [ -L "$_fx" ]; then rm -rf -- f g m x; break; fi
		done
		cd -P .. && rmdir -- "$_fp" 2>/dev/null || : ;;
	esac
}
drover_synclater() {
	if [ -n "$_fsyncs" ] && drover_here && printf '%s\n' "$PWD" >>"$_fsyncs"; then return 0; fi
	drover_sync . || :
}
drover_adopt() {
	_fb=${1#.}
	drover_stage "${_fb%.drover-*}" || return 1
	if ! mv -f -- "../$1" f; then drover_unstage; return 1; fi
	if [ -L f ] || [ ! -f f ] || [ "$(stat -c '%u %h' f)" != "$_fme 1" ]; then
		mv -f f "../$1" 2>/dev/null || :
		drover_unstage
		echo "drover: $1, the temporary file drover wrote in $(pwd -P), was replaced by another user; nothing was changed" >&2
		return 1
	fi
}
drover_place() {
	if ! drover_journal "../$1"; then drover_unstage; return 1; fi
	if [ -n "$2" ] && ! chown -- "$2" f; then drover_unstage; return 1; fi
	if { [ -n "$3" ] && ! chmod -- "$3" f; } || ! mv -fT f "../$1"; then drover_unstage; return 1; fi
	drover_unstage
	drover_jafter "$1"
	drover_synclater
}
drover_install() {
	if drover_here; then
		if [ -L "$1" ] || [ ! -f "$1" ]; then echo "drover: $1, the temporary file drover wrote in $PWD, is no longer a regular file; nothing was changed" >&2; return 1; fi
		if [ -n "$3" ] && ! chown -- "$3" "$1"; then return 1; fi
		drover_journal "$2" || return 1
		{ [ -z "$4" ] || chmod -- "$4" "$1"; } && mv -fT -- "$1" "$2" || return 1
		drover_jafter "$2"
		drover_synclater
		return 0
	fi
	drover_adopt "$1" && drover_place "$2" "$3" "$4"
}
drover_meta() {
	if [ -L "$1" ] || [ ! -f "$1" ]; then echo "drover: $(pwd -P)/$1 is no longer a regular file; run drover again" >&2; return 1; fi
	if drover_here || drover_fixed "$1"; then
		drover_journal "$1" meta || return 1
		if [ -n "$2" ]; then chown -h -- "$2" "$1" || return 1; fi
		if [ -n "$3" ]; then chmod -- "$3" "$1" || return 1; fi
		drover_jafter "$1"
		return 0
	fi
	case $3 in [2-7][0-7][0-7][0-7]) echo "drover: refusing to make $(pwd -P)/$1 setuid or setgid: its directory belongs to $(stat -c %U .), who can put any file there" >&2; return 1 ;; esac
	drover_stage "$1" || return 1
	if ! ln -- "../$1" f 2>/dev/null || [ -L f ] || [ ! -f f ] || [ "$(stat -c %h f)" != 2 ] || [ "$(stat -c %d:%i f)" != "$(stat -c %d:%i -- "../$1")" ]; then
		drover_unstage
		echo "drover: $1 in $(pwd -P) was replaced by a link or has another name; its owner and mode were not changed" >&2
		return 1
	fi
	if ! drover_journal "../$1" meta; then drover_unstage; return 1; fi
	if [ -n "$2" ] && ! chown -h -- "$2" f; then drover_unstage; return 1; fi
	if [ -n "$3" ] && ! chmod -- "$3" f; then drover_unstage; return 1; fi
	drover_unstage
	drover_jafter "$1"
}
drover_read() {
	if [ -L "$1" ]; then echo "drover: $(pwd -P)/$1 is a symbolic link" >&2; return 1; fi
	if [ ! -f "$1" ]; then echo "drover: $(pwd -P)/$1 is not a regular file" >&2; return 1; fi
	exec 3<"$1" || return 1
	if [ "$(stat -L -c '%d:%i %h' /proc/self/fd/3)" != "$(stat -c '%d:%i' -- "$1") 1" ] || [ -L "$1" ]; then
		exec 3<&-
		echo "drover: $(pwd -P)/$1 was replaced by a link or has another name; drover will not read it" >&2
		return 1
	fi
	cat <&3
	_fe=$?
	exec 3<&-
	return $_fe
}
` + journalFS

// safeFS is a shell library (engine/remote.Library): a batch of steps
// defines it once.
func init() { remote.Library(safeFS) }

// safeInstall is the script lines (after safeFS) that put the upload tmp,
// beside p, in place as p with owner (chown's OWNER[:GROUP], "" to keep the
// uploader's) and mode: see safeFS.
func safeInstall(tmp, p, owner string, mode uint32) string {
	dir, base := path.Split(p)
	return "drover_cd " + shell.Quote(dirOf(dir)) + "\n" +
		shell.Join("drover_install", path.Base(tmp), base, owner, fmtMode(mode)) + "\n"
}

// removeOnExit is the script line that removes the temporary files temps
// when the script exits without having moved them into place (it failed):
// tested first, so that a script that succeeded starts no rm.
func removeOnExit(temps ...string) string {
	return "trap " + shell.Quote("for _ft in "+shell.Join(temps...)+"; do if [ -e \"$_ft\" ] || [ -L \"$_ft\" ]; then rm -f -- \"$_ft\"; fi; done") + " EXIT\n"
}

// safeMeta is the script lines (after safeFS) that make fix on the existing
// regular file, or with dir the directory, p: see safeFS. "" when fix is
// empty.
func safeMeta(p string, dir bool, fix metaFix) string {
	if fix == (metaFix{}) {
		return ""
	}
	if dir {
		s := "drover_cd " + shell.Quote(p) + "\n" + journalDot
		if fix.Owner != "" {
			s += "chown -- " + shell.Quote(fix.Owner) + " .\n"
		}
		if fix.Mode != "" {
			s += "chmod -- " + fix.Mode + " .\n"
		}
		return s + journalDotAfter
	}
	d, base := path.Split(p)
	return "drover_cd " + shell.Quote(dirOf(d)) + "\n" + shell.Join("drover_meta", base, fix.Owner, fix.Mode) + "\n"
}

// safeMkdir is the script lines (after safeFS) that make the directory p
// and its missing parents (as mkdir -p, never through a link another user
// controls) and give p owner (chown's argument, "" to leave) and mode.
func safeMkdir(p, owner string, mode uint32) string {
	s := "drover_mkcd " + shell.Quote(p) + "\n" + journalDot
	if owner != "" {
		s += "chown -- " + shell.Quote(owner) + " .\n"
	}
	return s + "chmod -- " + fmtMode(mode) + " .\n" + journalDotAfter
}

// safeRemove is the script lines (after safeFS) that remove p (with tree,
// rm -rf) from its directory, entered with drover_cd; a missing directory
// means there is nothing to remove.
func safeRemove(p string, tree bool) string {
	d, base := path.Split(p)
	rm := "rm -f -- "
	if tree {
		rm = "rm -rf -- "
	}
	return "if [ -d " + shell.Quote(dirOf(d)) + " ]; then drover_cd " + shell.Quote(dirOf(d)) + "; " + journalRemove(rm+shell.Quote(base), shell.Quote(base)) + "; fi\n"
}

// safeLink is the script lines (after safeFS) that make p a symbolic link
// to target, replacing what is there (pre, run in p's directory with the
// name in $b, may remove it first): a new link under a temporary name,
// renamed over p.
func safeLink(p, target, pre string) string {
	d, base := path.Split(p)
	return "drover_cd " + shell.Quote(dirOf(d)) + "\nb=" + shell.Quote(base) + "\n" +
		"l=.$b.drover-" + tempSuffix() + "\ntrap 'rm -f \"$l\"' EXIT\n" +
		"ln -s -- " + shell.Quote(target) + " \"$l\"\n" + "drover_journal \"$b\"\n" + pre + "mv -fT \"$l\" \"$b\"\ndrover_jafter \"$b\"\n"
}

// safeRewrite is the script lines (after safeFS) that rewrite the file p
// through filter (a command from stdin to stdout): the old content is read
// with drover_read (none when p is missing), the new file is made in a
// private directory and put in place with mode 0644; p is removed instead
// when the result is blank. p's directory is made when missing.
func safeRewrite(p, filter string) string {
	d, base := path.Split(p)
	return "drover_mkcd " + shell.Quote(dirOf(d)) + "\nb=" + shell.Quote(base) + "\ndrover_stage \"$b\"\ntrap drover_unstage EXIT\n" +
		"if [ -e \"../$b\" ] || [ -L \"../$b\" ]; then drover_read \"../$b\" > g; else : > g; fi\n" +
		filter + " < g > f\n" +
		"if grep -q '[^[:space:]]' f; then drover_place \"$b\" '' 0644; else " + journalRemove("rm -f -- \"../$b\"", "\"../$b\"") + "; fi\n"
}

// chownSpec is chown's argument for owner and/or group ("" for neither):
// "owner" leaves the group, ":group" the owner.
func chownSpec(owner, group string) string {
	switch {
	case owner != "" && group != "":
		return owner + ":" + group
	case owner != "":
		return owner
	case group != "":
		return ":" + group
	}
	return ""
}

// dirOf is path.Split's dir without its trailing slash ("/" for the root).
func dirOf(dir string) string {
	if d := strings.TrimSuffix(dir, "/"); d != "" {
		return d
	}
	return "/"
}
