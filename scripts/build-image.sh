#!/usr/bin/env bash
# Build the ecs-operator OCI image without a container daemon and without pulling a base image:
# the image is assembled from scratch with umoci around a locally built release binary, then
# inspected with skopeo. Same result as the Dockerfile's (user 65532, entrypoint
# ["/ecs-operator", "run"], port 8080), for machines where `docker build` cannot run.
#
#   scripts/build-image.sh [--musl | --glibc | --binary PATH] [--tag TAG] [--out DIR] [--archive]
#
#   --musl          static binary: cargo build --release --target x86_64-unknown-linux-musl
#                   (needs `rustup target add x86_64-unknown-linux-musl` and musl-gcc from musl-tools)
#   --glibc         dynamic glibc binary (cargo build --release) plus the shared libraries it
#                   needs (ldd) and the dynamic loader, copied from this machine
#   --binary PATH   use an already built binary (static, or glibc as with --glibc)
#                   default: --musl when its target and musl-gcc are there, else --glibc
#   --tag TAG       image tag (default: the version in Cargo.toml)
#   --out DIR       OCI image layout directory (default: target/image/oci)
#   --archive       also write DIR/../ecs-operator-TAG.docker.tar (docker load / kind load
#                   image-archive / ctr images import)
#
# The image carries a CycloneDX 1.5 JSON SBOM of the binary at /sbom/ecs-operator.cdx.json
# (scripts/supply-chain.sh --sbom-only, cargo-cyclonedx), named by the config label and manifest
# annotation io.ecs-operator.sbom (and .sbom.format).
# Push it elsewhere with: skopeo copy oci:target/image/oci:TAG docker://REGISTRY/ecs-operator:TAG
# Needs (Debian): umoci skopeo (installed with apt-get when missing and running as root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[build-image] %s\n' "$*" >&2; }
die() { printf '[build-image] ERROR: %s\n' "$*" >&2; exit 1; }

mode=auto binary="" tag="" out=target/image/oci archive=0
while (( $# )); do
  case "$1" in
    --musl) mode=musl ;;
    --glibc) mode=glibc ;;
    --binary) binary="${2:?--binary needs a path}"; mode=binary; shift ;;
    --tag) tag="${2:?--tag needs a value}"; shift ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    --archive) archive=1 ;;
    -h|--help) sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
tag="${tag:-${version}}"
MUSL_TARGET=x86_64-unknown-linux-musl

# --- tools --------------------------------------------------------------------------------
need_pkgs=()
command -v umoci >/dev/null 2>&1 || need_pkgs+=(umoci)
command -v skopeo >/dev/null 2>&1 || need_pkgs+=(skopeo)
command -v jq >/dev/null 2>&1 || need_pkgs+=(jq)
if (( ${#need_pkgs[@]} )); then
  [[ $(id -u) -eq 0 ]] || die "missing ${need_pkgs[*]}: apt-get install ${need_pkgs[*]}"
  log "apt-get install -y ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null
  }
fi

musl_ready() {
  # grep -x without -q: under pipefail, -q's early exit can fail the pipeline (SIGPIPE).
  command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -x "${MUSL_TARGET}" >/dev/null &&
    command -v musl-gcc >/dev/null 2>&1
}
if [[ "${mode}" == auto ]]; then
  if musl_ready; then mode=musl; else mode=glibc; fi
fi

# --- binary -------------------------------------------------------------------------------
case "${mode}" in
  musl)
    musl_ready || die "--musl needs: rustup target add ${MUSL_TARGET}; apt-get install musl-tools"
    log "cargo build --release --locked --target ${MUSL_TARGET}"
    CC_x86_64_unknown_linux_musl=musl-gcc cargo build --release --locked --bin ecs-operator --target "${MUSL_TARGET}"
    binary="${CARGO_TARGET_DIR:-target}/${MUSL_TARGET}/release/ecs-operator"
    ;;
  glibc)
    log "cargo build --release --locked"
    cargo build --release --locked --bin ecs-operator
    binary="${CARGO_TARGET_DIR:-target}/release/ecs-operator"
    ;;
  binary) [[ -x "${binary}" ]] || die "not an executable: ${binary}" ;;
esac
[[ -x "${binary}" ]] || die "no binary at ${binary}"

# --- SBOM ---------------------------------------------------------------------------------
sbom_target=x86_64-unknown-linux-gnu
[[ "${mode}" == musl ]] && sbom_target="${MUSL_TARGET}"
log "SBOM: scripts/supply-chain.sh --sbom-only --target ${sbom_target}"
scripts/supply-chain.sh --sbom-only --target "${sbom_target}"
sbom="${CARGO_TARGET_DIR:-target}/sbom/ecs-operator.cdx.json"
[[ -f "${sbom}" ]] || die "no SBOM at ${sbom}"
SBOM_PATH=/sbom/ecs-operator.cdx.json
SBOM_FORMAT="CycloneDX 1.5 JSON"

# --- root filesystem ----------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/ecs-operator-image.XXXXXX")"
trap 'rm -rf "${work}"' EXIT
rootfs="${work}/rootfs"
mkdir -p "${rootfs}"/{etc,tmp,home/nonroot,etc/ssl/certs}
install -m 0755 "${binary}" "${rootfs}/ecs-operator"
install -D -m 0644 "${sbom}" "${rootfs}${SBOM_PATH}"
chmod 1777 "${rootfs}/tmp"
cat > "${rootfs}/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat > "${rootfs}/etc/group" <<'GROUP'
root:x:0:
nonroot:x:65532:
GROUP
cat > "${rootfs}/etc/nsswitch.conf" <<'NSS'
hosts: files dns
NSS
chown 65532:65532 "${rootfs}/home/nonroot" 2>/dev/null || true
# CA bundle (the in-cluster API server CA comes from the service account; other TLS peers
# may need the public roots).
for ca in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
  if [[ -f "${ca}" ]]; then install -m 0644 "${ca}" "${rootfs}/etc/ssl/certs/ca-certificates.crt"; break; fi
done

linkage="static"
if file -L "${binary}" 2>/dev/null | grep -q 'dynamically linked' || ldd "${binary}" >/dev/null 2>&1; then
  linkage="dynamic (glibc): libraries copied from this machine"
  # Every shared library ldd resolves, and the ELF interpreter, at the same paths.
  while read -r lib; do
    [[ -n "${lib}" ]] || continue
    mkdir -p "${rootfs}$(dirname "${lib}")"
    cp -L "${lib}" "${rootfs}${lib}"
  done < <(ldd "${binary}" | awk '/=> \//{print $3} /^\t\//{print $1}')
fi
log "binary: ${binary} (${linkage}), $(du -h "${binary}" | cut -f1)"

# The image must at least start in its own root: chroot to it (as root) and ask for --help.
if [[ $(id -u) -eq 0 ]] && command -v chroot >/dev/null 2>&1; then
  if chroot --userspec=65532:65532 "${rootfs}" /ecs-operator --help >/dev/null 2>&1; then
    log "smoke test: /ecs-operator --help runs inside the image root as uid 65532"
  else
    chroot --userspec=65532:65532 "${rootfs}" /ecs-operator --help >&2 || true
    die "the binary does not run inside the image root (missing libraries?)"
  fi
fi

# --- OCI image ----------------------------------------------------------------------------
created="$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)"
image="${out}:${tag}"
mkdir -p "$(dirname "${out}")"
[[ -f "${out}/oci-layout" ]] || umoci init --layout "${out}"
umoci rm --image "${image}" >/dev/null 2>&1 || true
umoci new --image "${image}"
umoci unpack --image "${image}" "${work}/bundle" >/dev/null
cp -a "${rootfs}/." "${work}/bundle/rootfs/"
umoci repack --image "${image}" --history.created_by "scripts/build-image.sh (${mode})" \
  --history.created "${created}" "${work}/bundle"
umoci config --image "${image}" \
  --os linux --architecture amd64 --created "${created}" --author "ecs-operator" \
  --config.user 65532:65532 \
  --config.entrypoint /ecs-operator --config.entrypoint run \
  --clear config.cmd \
  --config.workingdir / \
  --config.exposedports 8080/tcp \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --config.label org.opencontainers.image.title=ecs-operator \
  --config.label "org.opencontainers.image.version=${version}" \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label "io.ecs-operator.sbom=${SBOM_PATH}" \
  --config.label "io.ecs-operator.sbom.format=${SBOM_FORMAT}" \
  --manifest.annotation "io.ecs-operator.sbom=${SBOM_PATH}" \
  --manifest.annotation "io.ecs-operator.sbom.format=${SBOM_FORMAT}" \
  --history.created_by "scripts/build-image.sh: user 65532, entrypoint /ecs-operator run" \
  --history.created "${created}"
umoci gc --layout "${out}"

# --- inspect ------------------------------------------------------------------------------
umoci stat --image "${image}" >&2
config="$(skopeo inspect --config "oci:${image}")"
user="$(jq -r '.config.User' <<<"${config}")"
entrypoint="$(jq -c '.config.Entrypoint' <<<"${config}")"
cmd="$(jq -c '.config.Cmd' <<<"${config}")"
ports="$(jq -c '.config.ExposedPorts | keys' <<<"${config}")"
sbom_label="$(jq -r '.config.Labels["io.ecs-operator.sbom"] // empty' <<<"${config}")"
sbom_annotation="$(skopeo inspect --raw "oci:${image}" | jq -r '.annotations["io.ecs-operator.sbom"] // empty')"
# The SBOM as the image has it: unpacked from the image's layers again, then parsed.
umoci unpack --rootless --image "${image}" "${work}/check" >/dev/null
sbom_check="$(python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
names = {c["name"] for c in b.get("components", [])}
assert b.get("bomFormat") == "CycloneDX", "not a CycloneDX document"
assert "kube" in names, "kube is not among its components"
n, spec = len(b["components"]), b["specVersion"]
print(f"{n} components, CycloneDX {spec}, kube listed")
' "${work}/check/rootfs${sbom_label:-${SBOM_PATH}}")" || die "the image's SBOM ${SBOM_PATH} is missing or does not parse"
digest="$(skopeo inspect "oci:${image}" | jq -r '.Digest')"
size="$(du -sh "${out}" | cut -f1)"
echo "image:      oci:${image} (${size}, ${digest})"
echo "user:       ${user}"
echo "entrypoint: ${entrypoint}"
echo "cmd:        ${cmd}"
echo "ports:      ${ports}"
echo "binary:     ${linkage}"
echo "sbom:       ${sbom_label} (label; manifest annotation ${sbom_annotation:-missing}): ${sbom_check}"
[[ "${user}" == "65532:65532" ]] || die "unexpected user ${user}"
[[ "${entrypoint}" == '["/ecs-operator","run"]' ]] || die "unexpected entrypoint ${entrypoint}"
[[ "${sbom_label}" == "${SBOM_PATH}" && "${sbom_annotation}" == "${SBOM_PATH}" ]] ||
  die "SBOM label/annotation: ${sbom_label:-none} / ${sbom_annotation:-none}, expected ${SBOM_PATH}"

if (( archive )); then
  tarball="$(dirname "${out}")/ecs-operator-${tag}.docker.tar"
  rm -f "${tarball}"
  skopeo copy --quiet "oci:${image}" "docker-archive:${tarball}:ecs-operator:${tag}"
  echo "archive:    ${tarball} (docker load -i / kind load image-archive / ctr images import)"
fi
