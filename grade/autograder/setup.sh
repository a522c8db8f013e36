#!/bin/sh
# setup.sh: Gradescope runs this once, as root, when it builds the autograder's image (an
# Ubuntu 24.04 base: its QEMU 8.2 is new enough; 22.04's 6.2 is not).  The student CI
# workflow (.github/workflows/grade.yml) runs the same script on its runner.
set -eu
pkgs="make gcc binutils python3 qemu-system-x86"
sudo_=
[ "$(id -u)" = 0 ] || sudo_="sudo -n"
export DEBIAN_FRONTEND=noninteractive
$sudo_ apt-get update -q
$sudo_ apt-get install -y -q --no-install-recommends $pkgs
qemu-system-x86_64 --version | head -1
