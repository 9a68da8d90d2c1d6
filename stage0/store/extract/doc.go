// Package extract writes the entries of a tar archive (an ACI's rootfs) into
// a directory without ever writing outside it, whatever the archive says.
//
// The archive is treated as hostile. Every entry is created relative to a
// directory file descriptor of its parent, and parents are opened one path
// component at a time with O_NOFOLLOW (or in one openat2 call with
// RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_BENEATH), so no symlink the
// archive planted is ever followed, and ".." or absolute names are refused
// before any file system call. Files are created with O_CREAT|O_EXCL|O_NOFOLLOW:
// nothing is ever written through a symlink or into an inode that already
// exists (which could be a hard link to something else).
//
// Where to look: resolve_linux.go holds all of the resolution of names
// below the root, the part to audit (CleanName, the parent directories
// opened without following symlinks, removal through descriptors), with
// its own tests and fuzz target (FuzzResolve) in resolve_linux_test.go.
// extract_linux.go decides each entry; writer_linux.go makes small files
// in batches; contenthash.go and records_linux.go keep the content digests
// and the entries' metadata a tree hash takes.
//
// Decisions (each one is also enforced by a test):
//
//   - Names: absolute names, any ".." component, NUL bytes, paths longer than
//     MaxPathLen (4096) bytes and components longer than MaxNameLen (255)
//     bytes are errors. "./" prefixes and repeated slashes are cleaned.
//   - Duplicate entries are errors (spec A1: an ACI has no duplicate
//     entries), including an explicit non-directory for a path that an
//     earlier entry already used as a parent directory. With
//     Options.Overwrite (used when layering dependencies, spec A16) a later
//     entry replaces an earlier one instead: a directory replacing a
//     directory is merged, anything else is removed first (a directory
//     recursively, never following symlinks inside it), and a symlink found
//     where a parent directory is needed is replaced by a directory, not
//     followed.
//   - Symlinks are created verbatim: their targets are never resolved by
//     the extractor, so an absolute or "../.." target is harmless here; it
//     is resolved later only inside the pod's own root.
//   - Hard links must name a regular file inside the root that already
//     exists (in strict mode: an earlier regular-file entry of the same
//     archive). Links to symlinks, directories, devices or missing files
//     are errors.
//   - Character and block devices are not created: they are skipped and
//     listed in Result.SkippedDevices. The executor provides /dev itself
//     (spec E), and a device node inside an image would give the image's
//     owner a way to reach host devices (a world-writable /dev/sda in a
//     lower layer) past the namespaces. FIFOs are created (they carry no
//     privilege). Sockets cannot be expressed in tar.
//   - Modes are kept, setuid, setgid and sticky bits included (spec A2:
//     files keep their modes). Ownership is restored with fchown/lchown
//     before the mode, so the kernel does not clear the bits afterwards; a
//     file whose owner is the extractor's own user and group (most files of
//     most images, extracted by root) is created with its final mode and
//     needs neither call, unless the umask took bits off.
//     With Options.NoOwnership (extracting as an unprivileged user) owners
//     are not restored and setuid/setgid are dropped, because a setuid file
//     owned by the wrong user is never what the image meant.
//   - Extended attributes (PAX SCHILY.xattr.*, spec A2) are kept only in the
//     user.* namespace and security.capability (file capabilities, the
//     modern replacement for setuid, still bounded by the app's capability
//     set). trusted.* (overlayfs keeps its own metadata there: a planted
//     trusted.overlay.redirect would steer the pod's overlay), security.*
//     labels other than capabilities (the host policy labels files) and
//     system.* (ACLs) are dropped and counted in Result.DroppedXattrs. At
//     most MaxXattrs per entry and 64 KiB per value (archive.CheckXattrs, the
//     bounds image validation applies too).
//   - Sizes are bounded: Options.MaxEntries entries and Options.MaxBytes
//     bytes of file content in total (ErrTooLarge); a header announcing
//     more fails before anything is written. PAX headers are bounded by
//     archive/tar (1 MiB).
//   - Holes stay holes: every whole 4 KiB block of zeros in a file's
//     content is skipped instead of written, and the file given its length
//     at the end, so that a sparse file (whose holes archive/tar fills in)
//     or any run of zeros in a tiny archive takes no disk space.
//   - Ownership and times are restored after the content: mtime and atime
//     with utimensat(AT_SYMLINK_NOFOLLOW) on the entry itself (symlinks
//     included); directory metadata is applied in Finish, after all of
//     their children exist, so that creating children does not disturb it.
//   - Memory is bounded whatever the number of entries (bounds_linux.go):
//     what is remembered per name (kinds, directory metadata, records,
//     digests) lives in windows of a few thousand entries; past them the
//     file system tells what the window forgot, directory metadata goes
//     to a spill file (Options.SpillDir), and a tree hash walks the tree.
//   - In strict mode, regular files of at most 64 KiB are made by writer
//     goroutines, in batches, while the archive is read on: the same checks
//     decide them first, their parent directories exist before they are
//     handed over (each held open by descriptor), and whatever depends on
//     one existing (a hard link to it, a file beneath its name, pruning,
//     Finish) waits for the writers. The tree is the one the
//     archive order gives; only the order in which files are created
//     differs, which nothing records.
package extract
