// Package logfile keeps logs bounded: files of log lines that rotate by size
// and count, read from the end in constant memory, and followed across
// rotations.
//
// # Rotation
//
// A log at path has rotated predecessors path.1 (the newest) … path.N-1
// (the oldest), N being the number of files kept (MaxFiles, counting the
// current one, as the kubelet's containerLogMaxFiles does). Two ways to
// rotate:
//
//   - [RotatingWriter], for logs the server writes itself (build logs):
//     when a write would take the file past MaxSize, the files are shifted
//     up (path.N-2 → path.N-1, …, path → path.1) and a new path is made; a
//     write is split at line ends so that no file passes MaxSize. Nothing
//     is lost but the oldest file.
//   - [CopyTruncate], for logs another process appends to through a file
//     descriptor the server cannot replace (a replica's stdout and stderr,
//     opened with O_APPEND and inherited by the child): the content is
//     copied to a new path.1 (the older ones shifted up), what was appended
//     during the copy is copied too, and the file is truncated to zero; the
//     writer's next write lands at offset 0 because of O_APPEND. Lines
//     written between the last copy and the truncation are lost: that
//     window is one fstat and one ftruncate long (microseconds), and only
//     bites a process writing at that very moment. A file found larger
//     than [BigFactor] times MaxSize (a burst between two checks, or a log
//     from before rotation existed) keeps only its last MaxSize bytes,
//     from a line start, so a rotation never copies gigabytes.
//
// # Reading
//
// [LastLines] writes the last n lines of a log, its rotated files included
// when the current one has fewer, reading each file backwards in chunks to
// find where those lines start and then streaming them forward: its memory
// is a few chunk buffers, whatever the size of the files, the number of
// lines asked for or their length. A line longer than the cap is cut, with
// a note saying how many bytes were left out.
//
// [Follower] goes on from where LastLines stopped and writes what is
// appended. It notices both kinds of rotation: a replaced file (rename:
// it drains the old file, which it still holds open, then moves to the new
// one) and a truncated one (copy and truncate: it reads the rest from the
// new path.1 before starting again at offset 0). A file rotated twice
// between two calls, or one that was cut to its last MaxSize bytes, may
// make it miss or repeat a few lines.
package logfile
