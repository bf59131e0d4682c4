#!/bin/sh
# Rebuilds the FAT unit-test images (see README.md). Needs dosfstools and mtools.
set -e
export MTOOLS_SKIP_CHECK=1 LANG=C.UTF-8 TZ=UTC
work=$(mktemp -d)
printf 'ID=debian\n' > "$work/os-release"
printf 'hello\n' > "$work/h"
touch -d '2024-02-01 10:20:30' "$work/os-release" "$work/h"
for kind in 12 32; do
  img="$work/fat$kind.img"
  if [ $kind = 12 ]; then truncate -s 1M "$img"; else truncate -s 34M "$img"; fi
  mkfs.vfat -F $kind -s 1 -i 1234ABCD -n PREFLIGHT "$img" >/dev/null
  mmd -i "$img" ::/EFI ::/EFI/BOOT ::/d
  mcopy -m -i "$img" "$work/h" ::/EFI/BOOT/BOOTX64.EFI
  mcopy -m -i "$img" "$work/os-release" "::/os-release"
  mcopy -m -i "$img" "$work/h" "::/A long name é 日本.txt"
  mcopy -m -i "$img" "$work/h" "::/lower.txt"
  i=1; while [ $i -le 40 ]; do printf '%s\n' $i > "$work/e"; touch -d '2024-02-01 10:20:30' "$work/e"; mcopy -m -i "$img" "$work/e" "::/d/entry-$i"; i=$((i+1)); done
  head -c 3000 /dev/zero | tr '\0' 'x' > "$work/big"; touch -d '2024-02-01 10:20:30' "$work/big"
  mcopy -m -i "$img" "$work/big" ::/big.txt
  mattrib -i "$img" +r ::/os-release
  gzip -9n < "$img" > "fat$kind.img.gz"
done
rm -rf "$work"
