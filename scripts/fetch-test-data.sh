#!/usr/bin/env bash
# Fetches, once, the real NIfTI and DICOM files that daecf's volume tests read: nibabel's and
# pydicom's test data, from their wheels on PyPI (pinned versions, checked by hash), into
# $DAECF_TEST_DATA (default ~/.cache/daecf/test-data). The product never downloads anything.
set -euo pipefail
dest="${DAECF_TEST_DATA:-$HOME/.cache/daecf/test-data}"
if [ -f "$dest/complete" ]; then
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch-test-data: nibabel and pydicom test files into $dest" >&2
cat > "$work/requirements.txt" <<'REQ'
nibabel==5.4.2 --hash=sha256:553482c5f1e1034fc312edf6fb7f32236c0056439845d1c29293b7e8c98d4854
pydicom==3.0.2 --hash=sha256:abf971a5440f84dbaf42c4b6758e30e62480902584f8b270b9a5d146e278a07b
REQ
python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes -r "$work/requirements.txt" -d "$work"
mkdir -p "$dest/nibabel" "$dest/pydicom"
python3 - "$work" "$dest" <<'PY'
import glob, os, sys, zipfile
work, dest = sys.argv[1:]
wanted = {
    "nibabel": ("nibabel/tests/data/", ["anatomical.nii", "standard.nii.gz", "example4d.nii.gz", "example_nifti2.nii.gz"]),
    "pydicom": ("pydicom/data/test_files/", ["CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"]),
}
for package, (folder, names) in wanted.items():
    (wheel,) = glob.glob(os.path.join(work, f"{package}-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        for name in names:
            with open(os.path.join(dest, package, name), "wb") as out:
                out.write(z.read(folder + name))
PY
touch "$dest/complete"
