/**
 * The forms setting values must have (a Devo tag, an AWS region, a queue name or ARN, a host,
 * a URL, a field path...): each a regular expression, the words messages complete "must be ..."
 * with, and the catalogue error a value of another form raises. The schema table uses them.
 * @module
 */
import type { Pattern } from "./spec.ts";

export const TAG: Pattern = {
  re: /^[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+){2,}$/,
  form:
    "a Devo tag of three or more dot-separated words, e.g. cloud.aws.amazon.security_lake.events",
  code: "CONFIG_TAG",
};
export const REGION: Pattern = {
  re: /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/,
  form: "an AWS region code such as us-east-1",
  code: "CONFIG_REGION",
};
export const QUEUE_NAME: Pattern = {
  re: /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/,
  form: "an SQS queue name (1 to 80 letters, digits, hyphens or underscores), not a URL or ARN",
  code: "CONFIG_QUEUE_NAME",
};
export const ADDRESS: Pattern = {
  re:
    /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$|^\[?[0-9A-Fa-f:.]+\]?$/,
  form: "a host name or IP address without scheme, port or path, e.g. collector-eu.devo.io",
  code: "CONFIG_ADDRESS",
};
export const URL_FORM: Pattern = {
  re: /^https?:\/\/[^\s/?#]+(\/[^\s]*)?$/,
  form: "an http:// or https:// URL",
  code: "CONFIG_URL",
};
export const PROXY_URL: Pattern = {
  re: /^http:\/\/([^\s/?#@]+@)?[^\s/?#@]+\/?$/,
  form: "an http:// proxy URL such as http://proxy.example.com:3128 (user:password@ allowed)",
  code: "CONFIG_URL",
};
export const ACCOUNT_ID: Pattern = {
  re: /^\d{12}$/,
  form: "a 12-digit AWS account id",
  code: "CONFIG_ACCOUNT_ID",
};
export const QUEUE_ARN: Pattern = {
  re: /^arn:aws[a-z-]*:sqs:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$/,
  form:
    "an SQS queue ARN such as arn:aws:sqs:us-east-1:123456789012:AmazonSecurityLake-00000000-0000-Main-Queue",
  code: "CONFIG_QUEUE_ARN",
};
/**
 * A partition value of the lake's keys (`accountId=`, `region=`): AWS account ids and regions,
 * and for custom sources whatever their writer puts there (`external`, Azure subscription ids,
 * GCP project ids). Not empty, no slash, `=`, space or control character.
 */
export const PARTITION_VALUE = /^[A-Za-z0-9_.:@+-]{1,128}$/;
export const ACCOUNT_VALUE: Pattern = {
  re: PARTITION_VALUE,
  form:
    "an accountId= value as the keys hold it (1 to 128 letters, digits or _ . : @ + -), such as 123456789012 or external_acme",
  code: "CONFIG_PARTITION_VALUE",
};
export const REGION_VALUE: Pattern = {
  re: PARTITION_VALUE,
  form:
    "a region= value as the keys hold it (1 to 128 letters, digits or _ . : @ + -), such as us-east-1",
  code: "CONFIG_PARTITION_VALUE",
};
export const ROLE_ARN: Pattern = {
  re: /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]{1,512}$/,
  form: "an IAM role ARN such as arn:aws:iam::123456789012:role/seclake",
  code: "CONFIG_ROLE_ARN",
};
export const BUCKET: Pattern = {
  re: /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  form: "an S3 bucket name (3 to 63 lowercase letters, digits, dots or hyphens), not a URL",
  code: "CONFIG_BUCKET",
};
export const SOURCE: Pattern = {
  re: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
  form: "a Security Lake source name such as CLOUD_TRAIL_MGMT",
  code: "CONFIG_SOURCE_NAME",
};
export const LISTEN: Pattern = {
  re:
    /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)?(:([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5]))?$/,
  form: "host:port, host or :port (port 1–65535), e.g. 0.0.0.0:9464",
  code: "CONFIG_LISTEN",
};
export const FIELD_PATH: Pattern = {
  re:
    /^(\*|[A-Za-z_@$][\w@$-]*|"(?:[^"\\]|\\.)*")(\[\])?(\.(\*|[A-Za-z_@$][\w@$-]*|"(?:[^"\\]|\\.)*")(\[\])?)*$/,
  form:
    'a dotted OCSF field path such as actor.user.email_addr or observables[].value (* matches any key or list element, [] every element of a list; a name holding dots goes in double quotes: unmapped."x.forwarded.for")',
};
export const NAME: Pattern = {
  re: /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/,
  form: "a name of up to 64 letters, digits, underscores, dots or hyphens",
};
export const ACCESS_KEY_ID: Pattern = {
  re: /^[A-Za-z0-9]{4,128}$/,
  form: "an access key id such as AKIAIOSFODNN7EXAMPLE (letters and digits only)",
};
