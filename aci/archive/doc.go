// Package archive reads and writes .aci files, the appc spec's image
// archives: WalkArchive and ValidateArchive read one in a pass (detecting
// its compression, hashing it into the image ID, checking the layout's
// rules), ReadImage and OpenImage take the manifest from one, and Build
// writes one from a directory. The manifests and their types are package
// aci's; this package is apart from it so that aci's users that only parse
// manifests (stage1, in every pod's PID 1) link and initialise none of the
// decompressors (xz, bzip2, gzip), whose package initialisation and pages
// each start of theirs would pay.
package archive
