// Import rules of the layout (README: Layout). `./touchstream lint` runs them and the unit tier fails when
// they do (apps/touchstream/src/layout.test.ts), so CI enforces them.
//   apps/touchstream   the executable: composition root, configuration, server
//   services/*         one service module each; never imports another service
//   packages/*         libraries and contracts; never import services, apps or tools
//   tools/*            developer and operator tools (cli, stack, testkit); never shipped in the image
//   test/              end-to-end suites
const testFile = '\\.(test|integration\\.test|test-support)\\.ts$';
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'No import cycles anywhere.', from: {}, to: { circular: true } },
    {
      name: 'no-service-to-service',
      severity: 'error',
      comment:
        'A service never imports another: what two services share is a contract (packages/contracts) or a library. ' +
        'An integration test may run the real producer of a contract it reads (the journey test runs the real processor).',
      from: { path: '^services/([^/]+)/', pathNot: '\\.integration\\.test\\.ts$' },
      to: { path: '^services/([^/]+)/', pathNot: '^services/$1/' },
    },
    {
      name: 'packages-are-libraries',
      severity: 'error',
      comment: 'Packages never import services, the executable or tools.',
      from: { path: '^packages/', pathNot: testFile },
      to: { path: '^(services|apps|tools)/' },
    },
    {
      name: 'runtime-code-not-on-tools',
      severity: 'error',
      comment: 'What ships (services, packages, the executable) never imports developer tools; tests may use the test kit.',
      from: { path: '^(services|packages|apps)/', pathNot: testFile },
      to: { path: '^tools/' },
    },
    {
      name: 'tests-use-the-testkit-not-the-cli',
      severity: 'error',
      comment: 'Tests beside the code may use the test kit and the stack launcher, not the developer CLI.',
      from: { path: '^(services|packages|apps)/' },
      to: { path: '^tools/cli/' },
    },
    {
      name: 'services-not-on-the-executable',
      severity: 'error',
      comment: 'Services get their dependencies from the composition root; they never import it.',
      from: { path: '^(services|packages)/' },
      to: { path: '^apps/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|^\\.tools/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.json'] },
  },
};
