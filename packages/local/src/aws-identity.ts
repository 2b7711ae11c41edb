/** The account, region and credentials every local emulator accepts (they check none of them). */
export const LOCAL_REGION = "us-east-1";
export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
