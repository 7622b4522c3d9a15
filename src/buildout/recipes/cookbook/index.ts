/**
 * The slapos.cookbook recipes implemented natively (profiles.md §3.10–§3.21). Other cookbook
 * recipes stay refused by the registry, with an error naming the section and the recipe.
 */
import type { RecipeMap } from '../../recipe.ts';
import { backup } from './backup.ts';
import { certificateAuthority, certificateAuthorityRequest } from './certificate-authority.ts';
import { checkParameter } from './check-parameter.ts';
import { checkUrlAvailable } from './check-url-available.ts';
import { cronD, dcron } from './cron.ts';
import { copyfilelist } from './copyfilelist.ts';
import { freePortRecipe } from './free-port.ts';
import { generateMac, generatePasswordRecipe } from './generate.ts';
import { slapconfigurationJsonschema } from './jsonschema.ts';
import { mkdirectory } from './mkdirectory.ts';
import { postgres } from './postgres.ts';
import { checkPortListening, promisePlugin } from './promise.ts';
import { publishEarly } from './publish-early.ts';
import { publish, publishFailsafe, publishSerialised, publishSerialisedFailsafe } from './publish.ts';
import { randomInteger, randomTime } from './random.ts';
import { redisServer } from './redis.ts';
import { request, requestOptional, requestOptionalSerialised, requestSerialised } from './request.ts';
import { dropbearAddAuthorizedKey } from './dropbear.ts';
import { equeue } from './equeue.ts';
import { genericKumofs } from './kumofs.ts';
import { logrotateD } from './logrotate.ts';
import { publishurl } from './publishurl.ts';
import { readline } from './readline.ts';
import { tidstorage } from './tidstorage.ts';
import { wrapUpdateMysql } from './update-mysql.ts';
import { ipv4toipv6, ipv6toipv4 } from './sixtunnel.ts';
import { sshkeysAuthority, sshkeysAuthorityRequest } from './sshkeys-authority.ts';
import { slapconfiguration, slapconfigurationSerialised } from './slapconfiguration.ts';
import { NOOP_RECIPE, switchSoftwareType, switchSoftwareTypeNoop } from './switch-softwaretype.ts';
import { simplehttpserver } from './simplehttpserver.ts';
import { simplelogger } from './simplelogger.ts';
import { symbolicLink } from './symbolic-link.ts';
import { urlparse } from './urlparse.ts';
import { userinfo } from './userinfo.ts';
import { wrapper } from './wrapper.ts';
import { zeroKnowledgeRead, zeroKnowledgeWrite } from './zero-knowledge.ts';

export const COOKBOOK_RECIPES: RecipeMap = {
  'slapos.cookbook:mkdirectory': mkdirectory,
  'slapos.cookbook:wrapper': wrapper,
  'slapos.cookbook:slapconfiguration': slapconfiguration,
  'slapos.cookbook:slapconfiguration.serialised': slapconfigurationSerialised,
  'slapos.cookbook:slapconfiguration.jsonschema': slapconfigurationJsonschema,
  'slapos.cookbook:publish': publish,
  'slapos.cookbook:publish.serialised': publishSerialised,
  'slapos.cookbook:publish-early': publishEarly,
  'slapos.cookbook:request': request,
  'slapos.cookbook:request.serialised': requestSerialised,
  'slapos.cookbook:requestoptional': requestOptional,
  'slapos.cookbook:requestoptional.serialised': requestOptionalSerialised,
  'slapos.cookbook:postgres': postgres,
  'slapos.cookbook:redis.server': redisServer,
  'slapos.cookbook:random.integer': randomInteger,
  'slapos.cookbook:random.time': randomTime,
  'slapos.cookbook:copyfilelist': copyfilelist,
  'slapos.cookbook:zero-knowledge.read': zeroKnowledgeRead,
  'slapos.cookbook:zero-knowledge.write': zeroKnowledgeWrite,
  'slapos.cookbook:sshkeys_authority': sshkeysAuthority,
  'slapos.cookbook:sshkeys_authority.request': sshkeysAuthorityRequest,
  'slapos.cookbook:ipv6toipv4': ipv6toipv4,
  'slapos.cookbook:ipv4toipv6': ipv4toipv6,
  'slapos.cookbook:generic.mysql.wrap_update_mysql': wrapUpdateMysql,
  'slapos.cookbook:generic.kumofs': genericKumofs,
  'slapos.cookbook:tidstorage': tidstorage,
  'slapos.cookbook:readline': readline,
  'slapos.cookbook:publishurl': publishurl,
  'slapos.cookbook:equeue': equeue,
  'slapos.cookbook:publish_failsafe': publishFailsafe,
  'slapos.cookbook:publish.serialised_failsafe': publishSerialisedFailsafe,
  'slapos.cookbook:logrotate.d': logrotateD,
  'slapos.cookbook:dropbear.add_authorized_key': dropbearAddAuthorizedKey,
  'slapos.cookbook:generate.password': generatePasswordRecipe,
  'slapos.cookbook:generate.mac': generateMac,
  'slapos.cookbook:promise.plugin': promisePlugin,
  'slapos.cookbook:check_port_listening': checkPortListening,
  'slapos.cookbook:cron': dcron,
  'slapos.cookbook:cron.d': cronD,
  'slapos.cookbook:free_port': freePortRecipe,
  'slapos.cookbook:switch-softwaretype': switchSoftwareType,
  [NOOP_RECIPE]: switchSoftwareTypeNoop,
  'slapos.cookbook:symbolic.link': symbolicLink,
  'slapos.cookbook:userinfo': userinfo,
  'slapos.cookbook:simplelogger': simplelogger,
  'slapos.cookbook:check_parameter': checkParameter,
  'slapos.cookbook:check_url_available': checkUrlAvailable,
  'slapos.cookbook:urlparse': urlparse,
  'slapos.cookbook:simplehttpserver': simplehttpserver,
  'slapos.cookbook:certificate_authority': certificateAuthority,
  'slapos.cookbook:certificate_authority.request': certificateAuthorityRequest,
  'slapos.cookbook:backup': backup,
};
