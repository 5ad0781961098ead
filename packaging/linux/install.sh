#!/bin/sh
# Install BatchGUI for you (into ~/.local), or into another folder with --prefix.
#
#   ./install.sh                      install into ~/.local
#   ./install.sh --prefix DIR         install into DIR (DIR/bin, DIR/lib, DIR/share)
#   ./install.sh --uninstall [--prefix DIR]
#   ~/.local/lib/batchgui/uninstall.sh
#
# Puts the app in PREFIX/lib/batchgui, a `batchgui` command in PREFIX/bin, and the
# menu entry, the file-type links and the icons in PREFIX/share. Everything it makes
# (files and folders) is listed in PREFIX/lib/batchgui/install-manifest.txt, and
# uninstalling removes exactly those, nothing else. Installing again replaces the
# previous install.
set -eu

APP_ID=io.github.batchgui.BatchGUI
APP_DIR=lib/batchgui
MANIFEST=$APP_DIR/install-manifest.txt

say() { printf '%s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,8s/^# \{0,1\}//p' "$0"
}

here=$(cd "$(dirname "$0")" && pwd)
action=install
prefix=
case "$(basename "$0")" in
    uninstall.sh) action=uninstall; prefix=$(cd "$here/../.." && pwd) ;;
esac
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || fail "--prefix needs a folder"; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --uninstall) action=uninstall; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
if [ -z "$prefix" ]; then
    [ -n "${HOME:-}" ] || fail "HOME is not set: give a folder with --prefix"
    prefix=$HOME/.local
fi
case "$prefix" in
    /*) ;;
    *) prefix=$(pwd)/$prefix ;;
esac
prefix=${prefix%/}
case "$prefix" in
    *'"'*|*'`'*|*'$'*|*'\'*) fail "the folder name may not contain \" \` \$ or \\: $prefix" ;;
esac

# Refresh a desktop cache only where the desktop already keeps one: creating a cache
# file would leave something behind that uninstall did not put there.
refresh_caches() {
    if [ -f "$prefix/share/applications/mimeinfo.cache" ] &&
        command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$prefix/share/applications" || true
    fi
    if [ -f "$prefix/share/icons/hicolor/icon-theme.cache" ] &&
        command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t -f "$prefix/share/icons/hicolor" || true
    fi
}

do_uninstall() {
    manifest=$prefix/$MANIFEST
    [ -f "$manifest" ] || fail "BatchGUI is not installed in $prefix (no $MANIFEST)"
    # folders go last, the deepest first: the reverse of the order they were made in
    folders=$(sed -n 's/^dir //p' "$manifest" | sed -n '1!G;h;$p')
    while IFS= read -r line; do
        case "$line" in
            "file "*|"link "*) rm -f "$prefix/${line#* }" ;;
        esac
    done < "$manifest"
    printf '%s\n' "$folders" | while IFS= read -r folder; do
        [ -n "$folder" ] || continue
        [ "$folder" != . ] || folder=
        rmdir "$prefix${folder:+/$folder}" 2>/dev/null ||
            say "kept $prefix${folder:+/$folder}: it holds files BatchGUI did not put there"
    done
    refresh_caches
    say "BatchGUI was removed from $prefix."
}

# make_dir REL: create PREFIX/REL and any missing parents, noting each one created
make_dir() {
    [ -d "$prefix/$1" ] && return 0
    case "$1" in */*) make_dir "${1%/*}" ;; esac
    mkdir "$prefix/$1"
    printf 'dir %s\n' "$1" >> "$new_manifest"
}

# put SOURCE REL: copy one file to PREFIX/REL, noting it
put() {
    make_dir "${2%/*}"
    cp "$1" "$prefix/$2"
    printf 'file %s\n' "$2" >> "$new_manifest"
}

do_install() {
    [ -x "$here/batchgui" ] && [ -d "$here/_internal" ] ||
        fail "run this from the unpacked BatchGUI folder (batchgui and _internal beside it)"
    if [ -f "$prefix/$MANIFEST" ]; then
        say "replacing the BatchGUI installed in $prefix"
        do_uninstall >/dev/null
    fi
    [ ! -e "$prefix/$APP_DIR" ] || fail "$prefix/$APP_DIR exists and was not installed here: move it away first"
    [ ! -e "$prefix/bin/batchgui" ] && [ ! -L "$prefix/bin/batchgui" ] ||
        fail "$prefix/bin/batchgui exists already: remove it or choose another --prefix"
    if [ ! -d "$prefix" ]; then
        [ -d "$(dirname "$prefix")" ] || fail "$(dirname "$prefix") does not exist"
        mkdir "$prefix"
        created_prefix=yes
    else
        created_prefix=no
    fi

    new_manifest=$(mktemp)
    trap 'rm -f "$new_manifest"' EXIT
    [ "$created_prefix" = no ] || printf 'dir .\n' >> "$new_manifest"

    # the app: every folder under lib/batchgui is new, so each one is noted
    make_dir "$APP_DIR"
    cp -R "$here/batchgui" "$here/_internal" "$prefix/$APP_DIR/"
    (cd "$prefix" && find "$APP_DIR" -mindepth 1 -type d) | sed 's/^/dir /' >> "$new_manifest"
    (cd "$prefix" && find "$APP_DIR" -mindepth 1 ! -type d) | sed 's/^/file /' >> "$new_manifest"
    put "$here/install.sh" "$APP_DIR/uninstall.sh"
    chmod +x "$prefix/$APP_DIR/uninstall.sh"

    make_dir bin
    ln -s "../$APP_DIR/batchgui" "$prefix/bin/batchgui"
    printf 'link %s\n' bin/batchgui >> "$new_manifest"

    # the menu entry starts this very copy, wherever it went
    make_dir share/applications
    sed -e "s|^Exec=batchgui|Exec=\"$prefix/bin/batchgui\"|" \
        -e "s|^TryExec=batchgui|TryExec=$prefix/bin/batchgui|" \
        "$here/share/applications/$APP_ID.desktop" > "$prefix/share/applications/$APP_ID.desktop"
    printf 'file %s\n' "share/applications/$APP_ID.desktop" >> "$new_manifest"
    put "$here/share/metainfo/$APP_ID.metainfo.xml" "share/metainfo/$APP_ID.metainfo.xml"
    (cd "$here/share" && find icons -type f) | while IFS= read -r icon; do
        put "$here/share/$icon" "share/$icon"
    done

    printf 'file %s\n' "$MANIFEST" >> "$new_manifest"
    cp "$new_manifest" "$prefix/$MANIFEST"
    refresh_caches
    say "BatchGUI is installed in $prefix: find it in your applications menu,"
    say "or run $prefix/bin/batchgui. To remove it: $prefix/$APP_DIR/uninstall.sh"
}

if [ "$action" = uninstall ]; then do_uninstall; else do_install; fi
