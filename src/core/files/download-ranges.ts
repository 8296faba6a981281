/**
 * How every download route documents resumed downloads, in one place: the API passes the
 * client's `Range` and `If-Range` to the agent and its 206/416 back (agent-streams.ts).
 */
export const RANGE_DESCRIPTION =
  'Resumable: send `Range: bytes=a-b` (or `bytes=a-`, or `bytes=-n` for the last n bytes; one range only) and optionally `If-Range` with the `ETag` or `Last-Modified` of an earlier answer. 206 carries `Content-Range: bytes a-b/<size>` and only those bytes; 200 sends the whole file with `Accept-Ranges: bytes` when there is no range, the header is not one single byte range (several ranges are ignored, as RFC 9110 allows), or If-Range no longer matches (the file changed); 416 when the range starts at or past the end.';

export const RANGE_ERROR = 'The range starts at or past the end of the file (RANGE_NOT_SATISFIABLE, with `Content-Range: bytes */<size>`)';
