// The Node.js that runs this build (`executable`, unless given): the service runs it by its absolute
// path, since its PATH may not hold it (nvm, volta and the like install node elsewhere).
export function init(ctx) {
  if (!ctx.options.get('executable')) ctx.options.set('executable', process.execPath);
}

export function install() {
  return [];
}

export function update() {}
