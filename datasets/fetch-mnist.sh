#!/usr/bin/env bash
# Download the four MNIST files into datasets/mnist and check their SHA-256 sums.
#
# Usage:
#   datasets/fetch-mnist.sh [DIR]            download what is missing into DIR
#                                            (default: the mnist folder next to
#                                            this script), then verify all four
#   datasets/fetch-mnist.sh --verify-only DIR
#                                            only verify the four files in DIR
#   datasets/fetch-mnist.sh --help
#
# A file already present with the right sum is not downloaded again, so the
# script can be run any number of times. A file with a wrong sum is replaced.
#
# Environment:
#   MNIST_MIRROR   base URL to try before the built-in mirrors; it must serve
#                  the four .gz files under their usual names.
#
# Exit status: 0 all four files present and verified; 1 a sum does not match;
# 2 bad usage or no download tool; 3 a file could not be downloaded.

set -euo pipefail

# The sums of the original distribution files (yann.lecun.com/exdb/mnist),
# as published by torchvision and others; identical to
# /work/shared/datasets/mnist/SHA256SUMS.
SUMS='440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz'

# Public mirrors of the original files, tried in order.
MIRRORS=(
    "https://ossci-datasets.s3.amazonaws.com/mnist"
    "https://storage.googleapis.com/cvdf-datasets/mnist"
)

say() { printf 'fetch-mnist: %s\n' "$*" >&2; }

# usage: prints the comment block at the top of this file.
usage() {
    sed -n '2,20s/^# \{0,1\}//p' "$0"
}

# sha256_check DIR: reads "SUM  NAME" lines on stdin and checks them in DIR
# with `sha256sum -c` (or `shasum -a 256 -c` where sha256sum is missing).
# Quiet unless a file fails.
sha256_check() {
    local dir=$1
    if command -v sha256sum >/dev/null 2>&1; then
        (cd "$dir" && sha256sum -c --quiet -)
    elif command -v shasum >/dev/null 2>&1; then
        (cd "$dir" && shasum -a 256 -c --quiet -)
    else
        say "neither sha256sum nor shasum is installed; cannot verify"
        exit 2
    fi
}

# has_good_copy DIR NAME: true when DIR/NAME exists and has the expected sum.
has_good_copy() {
    local dir=$1 name=$2
    [[ -f "$dir/$name" ]] || return 1
    grep "  $name\$" <<<"$SUMS" | sha256_check "$dir" >/dev/null 2>&1
}

# verify DIR: checks all four files; exits 1 with a message on any mismatch.
verify() {
    local dir=$1 missing=0 name
    for name in $(awk '{print $2}' <<<"$SUMS"); do
        if [[ ! -f "$dir/$name" ]]; then
            say "missing: $dir/$name"
            missing=1
        fi
    done
    if ((missing)); then
        say "verification FAILED: files missing in $dir (run without --verify-only to download them)"
        exit 1
    fi
    if ! sha256_check "$dir" <<<"$SUMS"; then
        say "verification FAILED: SHA-256 mismatch in $dir (the files listed above are corrupt or not the original MNIST; delete them and run this script again)"
        exit 1
    fi
    say "all four MNIST files in $dir match their SHA-256 sums"
}

# download URL DEST: fetches URL into DEST with curl or wget.
download() {
    local url=$1 dest=$2
    if command -v curl >/dev/null 2>&1; then
        curl --fail --location --silent --show-error --retry 2 \
            --connect-timeout 20 --output "$dest" "$url"
    elif command -v wget >/dev/null 2>&1; then
        wget --quiet --tries=3 --timeout=20 --output-document="$dest" "$url"
    else
        say "neither curl nor wget is installed; cannot download"
        exit 2
    fi
}

# fetch DIR NAME: makes sure DIR/NAME exists with the right sum, trying each
# mirror in turn. Downloads go to a .part file that is renamed only once its
# sum checks out, so an interrupted run never leaves a bad file behind.
fetch() {
    local dir=$1 name=$2 base part
    if has_good_copy "$dir" "$name"; then
        say "present, sum OK: $dir/$name"
        return 0
    fi
    part="$dir/$name.part"
    for base in ${MNIST_MIRROR:+"$MNIST_MIRROR"} "${MIRRORS[@]}"; do
        say "downloading $base/$name"
        rm -f "$part"
        if ! download "$base/$name" "$part"; then
            say "  failed from $base"
            continue
        fi
        if grep "  $name\$" <<<"$SUMS" | sed "s/  $name\$/  $name.part/" |
            sha256_check "$dir" >/dev/null 2>&1; then
            mv -f "$part" "$dir/$name"
            return 0
        fi
        say "  wrong SHA-256 from $base, trying the next mirror"
    done
    rm -f "$part"
    say "could not download $name with the right SHA-256 from any mirror"
    exit 3
}

main() {
    local dir verify_only=0
    if ! command -v sha256sum >/dev/null 2>&1 && ! command -v shasum >/dev/null 2>&1; then
        say "neither sha256sum nor shasum is installed; cannot verify"
        exit 2
    fi
    case "${1:-}" in
        -h | --help)
            usage
            exit 0
            ;;
        --verify-only)
            if [[ $# -ne 2 ]]; then
                usage >&2
                exit 2
            fi
            verify_only=1
            dir=$2
            ;;
        -*)
            say "unknown option: $1"
            usage >&2
            exit 2
            ;;
        *)
            if [[ $# -gt 1 ]]; then
                usage >&2
                exit 2
            fi
            dir=${1:-"$(cd "$(dirname "$0")" && pwd)/mnist"}
            ;;
    esac

    if ((verify_only)); then
        if [[ ! -d "$dir" ]]; then
            say "verification FAILED: no such directory: $dir"
            exit 1
        fi
        verify "$dir"
        return
    fi

    mkdir -p "$dir"
    local name
    for name in $(awk '{print $2}' <<<"$SUMS"); do
        fetch "$dir" "$name"
    done
    verify "$dir"
}

main "$@"
