/**
 * Which S3 errors no retry can cure, by the SDK's error `name` (S3's error `Code`). One mapping,
 * used by the pre-rent inspection (→ `DatasetRejectedError`) and by the streaming reader
 * (→ a permanent `DatasetSourceError`).
 *
 * Permanent, because the answer will be the same in an hour unless a person changes something:
 * - `NoSuchBucket`, `InvalidBucketName`: the bucket does not exist (or cannot).
 * - `AccessDenied`, `AllAccessDisabled`, `AccountProblem`: IAM, the bucket policy, an SSE-KMS key
 *   policy or AWS itself refuses the read; someone has to grant it.
 * - `InvalidAccessKeyId`, `SignatureDoesNotMatch`: the deployment's credentials are not valid
 *   AWS credentials; retrying signs with the same ones.
 * - `PermanentRedirect`, `AuthorizationHeaderMalformed`, `IllegalLocationConstraintException`:
 *   the bucket lives in another region than the client is configured for.
 * - `InvalidObjectState`: the object is archived (Glacier, Deep Archive) and must be restored.
 * - `NoSuchKey`: S3 is strongly consistent, so a key that was just listed and is now gone was
 *   deleted in between: the dataset is being changed while we read it, and training on a
 *   half-replaced set is worse than failing.
 *
 * Everything else stays transient (rethrown as is): `SlowDown`, `ServiceUnavailable`,
 * `InternalError`, `RequestTimeout`, throttling, network errors, and `ExpiredToken` /
 * `RequestTimeTooSkewed`, which the SDK cures itself on a later call (fresh credentials,
 * clock-skew correction).
 */
import { S3ServiceException } from "@aws-sdk/client-s3";
import { DatasetSourceError } from "./entries";

export interface S3Location {
  bucket: string;
  /** An object key or a prefix; empty for the whole bucket. */
  key?: string;
}

const url = ({ bucket, key }: S3Location) => `s3://${bucket}/${key ?? ""}`;

const PERMANENT_S3_ERRORS: ReadonlyMap<string, (at: S3Location) => string> = new Map(
  Object.entries({
    NoSuchBucket: (at: S3Location) => `the S3 bucket "${at.bucket}" does not exist`,
    InvalidBucketName: (at: S3Location) => `"${at.bucket}" is not a valid S3 bucket name`,
    AccessDenied: (at: S3Location) =>
      `access to ${url(at)} is denied (AccessDenied): the deployment's role, the bucket policy or the object's KMS key does not allow reading it`,
    AllAccessDisabled: (at: S3Location) =>
      `all access to the S3 bucket "${at.bucket}" has been disabled by AWS`,
    AccountProblem: (at: S3Location) =>
      `the AWS account owning "${at.bucket}" has a problem that blocks access (AccountProblem)`,
    InvalidAccessKeyId: () => "S3 does not recognize the deployment's access key (InvalidAccessKeyId)",
    SignatureDoesNotMatch: () => "S3 refused the deployment's request signature (SignatureDoesNotMatch)",
    PermanentRedirect: (at: S3Location) =>
      `the S3 bucket "${at.bucket}" is in another region than the deployment`,
    AuthorizationHeaderMalformed: (at: S3Location) =>
      `the S3 bucket "${at.bucket}" is in another region than the deployment (AuthorizationHeaderMalformed)`,
    IllegalLocationConstraintException: (at: S3Location) =>
      `the S3 bucket "${at.bucket}" is in another region than the deployment`,
    InvalidObjectState: (at: S3Location) =>
      `${url(at)} is archived (e.g. S3 Glacier); restore it before training on it`,
    NoSuchKey: (at: S3Location) =>
      `${url(at)} was deleted while the dataset was being read; is the dataset being changed?`,
  }),
);

/** The S3 error names treated as permanent. */
export const PERMANENT_S3_ERROR_NAMES: readonly string[] = [...PERMANENT_S3_ERRORS.keys()];

/** A reason a person understands when `error` is a permanent S3 refusal; null when a retry may help. */
export function permanentS3Failure(error: unknown, at: S3Location): string | null {
  if (!(error instanceof S3ServiceException)) return null;
  const describe = PERMANENT_S3_ERRORS.get(error.name);
  return describe ? describe(at) : null;
}

/** A permanent S3 refusal as a permanent `DatasetSourceError`; anything else unchanged. */
export function s3SourceError(error: unknown, at: S3Location): unknown {
  const reason = permanentS3Failure(error, at);
  return reason === null ? error : new DatasetSourceError(reason, { permanent: true, cause: error });
}
