// Sign-in in AWS: the Cognito user pool checks the password (USER_PASSWORD_AUTH), the identity pool trades the ID
// token for temporary IAM credentials of the role the user's group maps to (finance or auditor). Both are plain
// JSON calls that need no signature. Credentials live in this tab's memory only; they last an hour at most.
import type { ConsoleConfig } from "./config";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: number; // epoch milliseconds
  user: string;
}

async function awsJson(url: string, target: string, body: unknown): Promise<any> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.message || answer.__type || `sign-in failed (HTTP ${response.status})`);
  return answer;
}

/** Where a sign-in stands: done (credentials), or a challenge Cognito asks to be answered first (a first sign-in's
 * new password, or a TOTP code for a user who set up MFA); answering may lead to the next one. */
export type SignInStep = { credentials: Credentials } | { challenge: "new_password" | "mfa_code"; answer: (value: string) => Promise<SignInStep> };

const CHALLENGES: Record<string, ["new_password" | "mfa_code", string]> = {
  NEW_PASSWORD_REQUIRED: ["new_password", "NEW_PASSWORD"],
  SOFTWARE_TOKEN_MFA: ["mfa_code", "SOFTWARE_TOKEN_MFA_CODE"],
};

export async function signIn(config: ConsoleConfig, username: string, password: string): Promise<SignInStep> {
  const started = await awsJson(idpUrl(config), "AWSCognitoIdentityProviderService.InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH", ClientId: config.userPoolClientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  return step(config, username, started);
}

const idpUrl = (config: ConsoleConfig) => `https://cognito-idp.${config.region}.amazonaws.com/`;

async function step(config: ConsoleConfig, username: string, answer: any): Promise<SignInStep> {
  if (answer.AuthenticationResult) return { credentials: await credentialsFor(config, answer.AuthenticationResult.IdToken, username) };
  const known = CHALLENGES[answer.ChallengeName];
  if (!known) throw new Error(`sign-in needs ${answer.ChallengeName || "a step this console does not support"}`);
  const [challenge, responseName] = known;
  return {
    challenge,
    answer: async (value: string) => step(config, username, await awsJson(idpUrl(config), "AWSCognitoIdentityProviderService.RespondToAuthChallenge", {
      ChallengeName: answer.ChallengeName, ClientId: config.userPoolClientId, Session: answer.Session,
      ChallengeResponses: { USERNAME: username, [responseName]: value },
    })),
  };
}

async function credentialsFor(config: ConsoleConfig, idToken: string, user: string): Promise<Credentials> {
  const identity = `https://cognito-identity.${config.region}.amazonaws.com/`;
  const logins = { [`cognito-idp.${config.region}.amazonaws.com/${config.userPoolId}`]: idToken };
  const { IdentityId } = await awsJson(identity, "AWSCognitoIdentityService.GetId", { IdentityPoolId: config.identityPoolId, Logins: logins });
  const { Credentials: c } = await awsJson(identity, "AWSCognitoIdentityService.GetCredentialsForIdentity", { IdentityId, Logins: logins });
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken, expiration: c.Expiration * 1000, user };
}
